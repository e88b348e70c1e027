package io.ringkv.client;

/**
 * A write was refused because its session expired on the server, and no attempt of it may have been
 * applied. The client answers it by sending the write again on a fresh session, so callers see it
 * only if that fails too.
 */
final class SessionExpiredException extends RejectedException {
  private static final long serialVersionUID = 1L;

  SessionExpiredException(String message, Throwable cause) {
    super(message, cause);
  }
}
