package io.ringkv.server.config;

/** An invalid setting: start-up stops with this message, which names the setting. */
public final class ConfigException extends RuntimeException {
  private final String settingName;

  public ConfigException(String settingName, String message) {
    super(settingName == null ? message : "invalid setting '" + settingName + "': " + message);
    this.settingName = settingName;
  }

  /** The setting at fault (its flag name without dashes), or null for file-level problems. */
  public String settingName() {
    return settingName;
  }
}
