package io.ringkv.client;

/**
 * The cluster refused the request in its current state (gRPC FAILED_PRECONDITION, for example a
 * stale session sequence or a compacted changefeed cursor). Retrying the same request will not
 * help.
 */
public class RejectedException extends RingKvException {
  private static final long serialVersionUID = 1L;

  RejectedException(String message, Throwable cause) {
    super(message, cause);
  }
}
