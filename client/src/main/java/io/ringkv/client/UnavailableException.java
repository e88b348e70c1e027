package io.ringkv.client;

/**
 * No node could serve the request before its deadline (no node reachable, no quorum, no leader); a
 * write that fails with this exception was certainly not applied.
 */
public class UnavailableException extends RingKvException {
  private static final long serialVersionUID = 1L;

  UnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
