package io.ringkv.client;

/**
 * The deadline passed for a read, or for a write that never reached a node (so it was not applied).
 */
public class DeadlineExceededException extends RingKvException {
  private static final long serialVersionUID = 1L;

  DeadlineExceededException(String message, Throwable cause) {
    super(message, cause);
  }
}
