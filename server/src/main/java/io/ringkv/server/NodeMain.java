package io.ringkv.server;

import io.ringkv.server.config.ConfigException;
import io.ringkv.server.config.ConfigLoader;
import io.ringkv.server.config.NodeConfig;
import io.ringkv.server.config.Setting;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Entry point of a ringkv node: {@code ringkv --data-dir DIR [--name value ...]}. Flags are parsed
 * by hand (see {@link ConfigLoader}) so the server needs no CLI library. Exit codes: 0 after a
 * clean shutdown (SIGTERM/SIGINT), 2 for invalid settings, 1 when start-up fails otherwise.
 */
public final class NodeMain {
  private static final Logger log = LoggerFactory.getLogger(NodeMain.class);

  private NodeMain() {}

  public static void main(String[] args) throws InterruptedException {
    if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
      System.out.println("usage: ringkv --data-dir DIR [--name value | --name=value ...]\n");
      System.out.print(Setting.usage());
      return;
    }
    if (Arrays.asList(args).contains("--version")) {
      System.out.println("ringkv " + RingkvNode.VERSION);
      return;
    }
    NodeConfig config;
    try {
      config = ConfigLoader.load(args);
    } catch (ConfigException e) {
      System.err.println("ringkv: " + e.getMessage());
      System.exit(2);
      return;
    }
    RingkvNode node;
    try {
      node = RingkvNode.start(config);
    } catch (Exception e) {
      log.error("node {} failed to start: {}", config.nodeId(), e.toString(), e);
      System.exit(1);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(node::close, "ringkv-shutdown"));
    node.awaitTermination();
  }
}
