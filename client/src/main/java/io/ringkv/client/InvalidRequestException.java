package io.ringkv.client;

import java.util.Optional;

/**
 * The request is wrong and retrying it cannot help (gRPC INVALID_ARGUMENT): an empty key, a bad
 * range, or a named limit exceeded. For a limit, {@link #limitName()} names it as the server
 * configures it (for example {@code key-size-bytes-max}) and {@link #limitValue()} gives its value.
 */
public class InvalidRequestException extends RingKvException {
  private static final long serialVersionUID = 1L;

  private final String limitName;
  private final long limitValue;

  InvalidRequestException(String message, String limitName, long limitValue, Throwable cause) {
    super(message, cause);
    this.limitName = limitName == null || limitName.isEmpty() ? null : limitName;
    this.limitValue = limitValue;
  }

  /** The name of the limit that was exceeded, if the request broke one. */
  public Optional<String> limitName() {
    return Optional.ofNullable(limitName);
  }

  /** The value of the limit that was exceeded (0 when unknown or not a limit). */
  public long limitValue() {
    return limitValue;
  }
}
