package io.ringkv.server.gossip;

import io.ringkv.server.config.FilePoller;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's gossip key file ({@code gossip-key-file}), re-read every reload interval like the TLS
 * files, so keys rotate without a restart. The file is compared by content; a change that does not
 * parse is logged once and counted, and the keys in use stay, since dropping to no keys would
 * either cut the node off or open it to forged packets.
 */
public final class GossipKeyFile implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GossipKeyFile.class);

  private final Path file;
  private final long reloadIntervalMillis;
  private final AtomicLong reloads = new AtomicLong();
  private final AtomicLong reloadFailures = new AtomicLong();
  private volatile GossipKeyring keyring;
  private byte[] loadedContent;

  /** Content of the last change that did not parse (logged once, not at every poll). */
  private byte[] refusedContent;

  private FilePoller poller;

  private GossipKeyFile(Path file, long reloadIntervalMillis, byte[] content, GossipKeyring keys) {
    this.file = file;
    this.reloadIntervalMillis = reloadIntervalMillis;
    this.loadedContent = content;
    this.keyring = keys;
  }

  /**
   * Reads and parses {@code file}.
   *
   * @throws IOException naming the file and what is wrong with it
   */
  public static GossipKeyFile load(Path file, long reloadIntervalMillis) throws IOException {
    if (reloadIntervalMillis < 1) {
      throw new IllegalArgumentException(
          "reloadIntervalMillis must be >= 1, got " + reloadIntervalMillis);
    }
    byte[] content = Files.readAllBytes(file);
    GossipKeyring keys;
    try {
      keys = GossipKeyring.parse(content);
    } catch (IllegalArgumentException e) {
      throw new IOException("gossip key file " + file + ": " + e.getMessage(), e);
    }
    log.info(
        "gossip encrypted with keys from {}: sealing with key {}, accepting {}",
        file,
        GossipKeyring.keyId(keys.sealing()),
        keys.keyIds());
    return new GossipKeyFile(file, reloadIntervalMillis, content, keys);
  }

  /** The keys in use now. */
  GossipKeyring keyring() {
    return keyring;
  }

  /** Polls the file every reload interval from now on, on a daemon thread of its own. */
  public synchronized GossipKeyFile startReloading() {
    if (poller == null) {
      poller = FilePoller.start("gossip-key", reloadIntervalMillis, this::reloadIfChanged);
    }
    return this;
  }

  /**
   * Reads the file; when its content changed and parses, the new keys are used from the next packet
   * on.
   *
   * @return whether new keys were installed
   */
  public synchronized boolean reloadIfChanged() {
    byte[] content;
    try {
      content = Files.readAllBytes(file);
    } catch (IOException e) {
      refuse(null, "cannot be read: " + e);
      return false;
    }
    if (Arrays.equals(content, loadedContent) || Arrays.equals(content, refusedContent)) {
      return false;
    }
    GossipKeyring keys;
    try {
      keys = GossipKeyring.parse(content);
    } catch (IllegalArgumentException e) {
      refuse(content, "does not parse: " + e.getMessage());
      return false;
    }
    keyring = keys;
    loadedContent = content;
    refusedContent = null;
    reloads.incrementAndGet();
    log.info(
        "gossip key file {} reloaded: sealing with key {}, accepting {}",
        file,
        GossipKeyring.keyId(keys.sealing()),
        keys.keyIds());
    return true;
  }

  private void refuse(byte[] content, String why) {
    if (content != null) {
      refusedContent = content;
    }
    reloadFailures.incrementAndGet();
    log.error("changed gossip key file {} {}; the keys in use stay", file, why);
  }

  /** Changes of the file that were loaded. */
  public long reloads() {
    return reloads.get();
  }

  /** Changes of the file that did not load (the keys in use stayed). */
  public long reloadFailures() {
    return reloadFailures.get();
  }

  @Override
  public synchronized void close() {
    if (poller != null) {
      poller.close();
    }
  }
}
