package io.ringkv.client;

/**
 * A node reported an internal error (gRPC INTERNAL, UNKNOWN or DATA_LOSS) for a read or a cluster
 * call. A write that meets such an error is reported as {@link OutcomeUnknownException} instead,
 * since the node may have applied it before failing.
 */
public class ServerErrorException extends RingKvException {
  private static final long serialVersionUID = 1L;

  ServerErrorException(String message, Throwable cause) {
    super(message, cause);
  }
}
