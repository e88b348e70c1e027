package io.ringkv.client;

/**
 * The nodes do not offer this operation (gRPC UNIMPLEMENTED): for example a node built before the
 * KV service existed.
 */
public class UnsupportedByServerException extends RingKvException {
  private static final long serialVersionUID = 1L;

  UnsupportedByServerException(String message, Throwable cause) {
    super(message, cause);
  }
}
