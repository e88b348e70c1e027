package io.ringkv.client;

/**
 * The cluster kept refusing the request because it is overloaded (for example too many in-flight
 * proposals on a partition) until the deadline; the write was not applied.
 */
public class ResourceExhaustedException extends RingKvException {
  private static final long serialVersionUID = 1L;

  ResourceExhaustedException(String message, Throwable cause) {
    super(message, cause);
  }
}
