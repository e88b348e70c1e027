package io.ringkv.client;

/**
 * Base of every failure the ringkv client reports. The subclasses say what happened, so that a
 * caller can decide what to do without parsing messages:
 *
 * <ul>
 *   <li>{@link InvalidRequestException}: the request itself is wrong (empty or oversized key, a
 *       limit exceeded); retrying it cannot help.
 *   <li>{@link RejectedException}: the cluster refused the request in its current state (for
 *       example a stale session sequence); not retried.
 *   <li>{@link UnavailableException}: no node could serve the request in time (no node reachable,
 *       no quorum); the write was certainly not applied.
 *   <li>{@link ResourceExhaustedException}: the cluster is overloaded (too many in-flight
 *       proposals) and kept refusing until the deadline; the write was not applied.
 *   <li>{@link DeadlineExceededException}: the deadline passed for a read, or for a write that was
 *       never sent.
 *   <li>{@link OutcomeUnknownException}: the deadline passed after a write may have reached a node:
 *       it may or may not have been applied.
 *   <li>{@link UnsupportedByServerException}: the nodes do not offer this operation (yet).
 * </ul>
 *
 * A key that does not exist is not an exception: reads return an empty {@link java.util.Optional}.
 */
public abstract class RingKvException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  RingKvException(String message, Throwable cause) {
    super(message, cause);
  }
}
