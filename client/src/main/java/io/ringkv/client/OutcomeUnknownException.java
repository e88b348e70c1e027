package io.ringkv.client;

/**
 * A write's deadline passed after the write may have reached a node: it may have been applied, or
 * not. The client retried it with the same session and sequence as long as it could, so it was
 * applied at most once; read the key to learn which. Distinct from the definite failures ({@link
 * UnavailableException}, {@link DeadlineExceededException}, ...), which guarantee it was not.
 */
public class OutcomeUnknownException extends RingKvException {
  private static final long serialVersionUID = 1L;

  OutcomeUnknownException(String message, Throwable cause) {
    super(message, cause);
  }
}
