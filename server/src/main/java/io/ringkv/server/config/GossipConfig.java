package io.ringkv.server.config;

import io.ringkv.gossip.GossipSettings;
import java.nio.file.Path;

/**
 * Whether a node runs gossip, and with which timings: a named preset with single fields overridden,
 * already validated by {@link GossipSettings}.
 *
 * @param enabled false only to run a node without gossip (members then count as alive while a peer
 *     connection to them is up, as before gossip existed)
 * @param preset the preset the settings started from, for logs and status pages
 * @param keyFile file of the keys that seal and open every gossip packet, or null for plaintext
 *     gossip
 */
public record GossipConfig(boolean enabled, String preset, GossipSettings settings, Path keyFile) {
  public static final String PRESET_DEFAULT = "lan";

  public static final GossipConfig DEFAULTS =
      new GossipConfig(true, PRESET_DEFAULT, GossipSettings.preset(PRESET_DEFAULT), null);
}
