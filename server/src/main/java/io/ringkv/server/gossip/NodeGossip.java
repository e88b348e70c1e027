package io.ringkv.server.gossip;

import io.micrometer.core.instrument.MeterRegistry;
import io.ringkv.gossip.GossipSettings;
import io.ringkv.gossip.MemberState;
import io.ringkv.gossip.MemberView;
import java.io.IOException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's gossip as the rest of the node uses it: members are named by node id (the gossip member
 * id is the id in decimal), liveness is read from the transport's last published status without
 * waiting for the gossip thread, and closing says goodbye before the sockets go, so the others see
 * LEFT at once instead of suspecting the node for a suspicion timeout.
 */
public final class NodeGossip implements AutoCloseable {
  /** Gossip rounds close() waits after announcing the leave, so the news gets out first. */
  static final int LEAVE_GOSSIP_ROUNDS = 2;

  private static final Logger log = LoggerFactory.getLogger(NodeGossip.class);

  private final GossipTransport transport;
  private final GossipKeyFile keyFile;
  private final long leaveWaitMillis;

  private NodeGossip(GossipTransport transport, GossipKeyFile keyFile, long leaveWaitMillis) {
    this.transport = transport;
    this.keyFile = keyFile;
    this.leaveWaitMillis = leaveWaitMillis;
  }

  /**
   * Starts gossip on {@code host:port} (the node's advertised peer address) with the other members'
   * peer addresses as seeds, and registers its meters. With {@code keyFile}, every packet is sealed
   * with its first key and must open with one of its keys; the file is re-read every {@code
   * keyReloadIntervalMillis}.
   *
   * @param keyFile the gossip key file, or null for plaintext gossip
   * @throws IOException when the key file cannot be read or parsed (the message names it)
   */
  public static NodeGossip start(
      String clusterId,
      long nodeId,
      String host,
      int port,
      List<String> seedAddresses,
      GossipSettings settings,
      RandomGenerator random,
      Path keyFile,
      long keyReloadIntervalMillis,
      MeterRegistry registry)
      throws InterruptedException, IOException {
    GossipKeyFile keys =
        keyFile == null ? null : GossipKeyFile.load(keyFile, keyReloadIntervalMillis);
    GossipCipher cipher =
        keys == null ? null : new GossipCipher(clusterId, keys::keyring, new SecureRandom());
    GossipTransport transport =
        new GossipTransport(
            new GossipTransportSettings(
                clusterId, memberId(nodeId), host, port, seedAddresses, settings),
            random,
            event -> {},
            cipher);
    try {
      transport.start();
    } catch (RuntimeException | InterruptedException e) {
      transport.close();
      throw e;
    }
    GossipMetrics.register(registry, transport);
    if (keys != null) {
      GossipMetrics.register(registry, keys.startReloading());
    }
    long leaveWait =
        (long) LEAVE_GOSSIP_ROUNDS * settings.gossipIntervalTicks() * settings.tickMillis();
    return new NodeGossip(transport, keys, leaveWait);
  }

  public static String memberId(long nodeId) {
    return Long.toString(nodeId);
  }

  /** The node id a gossip member id names, or 0 when it names none. */
  public static long nodeId(String memberId) {
    try {
      return Long.parseLong(memberId);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** How gossip last saw {@code nodeId}, or null when it has not heard of it. */
  public MemberState state(long nodeId) {
    MemberView view = view(nodeId);
    return view == null ? null : view.state();
  }

  private MemberView view(long nodeId) {
    String id = memberId(nodeId);
    for (GossipStatus.Member member : transport.latestStatus().members()) {
      if (member.view().memberId().equals(id)) {
        return member.view();
      }
    }
    return null;
  }

  /** True when gossip holds {@code nodeId} dead or gone (not when it merely suspects it). */
  public boolean isGone(long nodeId) {
    MemberState state = state(nodeId);
    return state == MemberState.DEAD || state == MemberState.LEFT;
  }

  /**
   * How long ago gossip last heard from {@code nodeId} if it holds it dead or gone, else -1: the
   * time the meta leader compares with dead-node-replace-after.
   */
  public long millisDead(long nodeId) {
    String id = memberId(nodeId);
    for (GossipStatus.Member member : transport.latestStatus().members()) {
      MemberState state = member.view().state();
      if (member.view().memberId().equals(id)
          && (state == MemberState.DEAD || state == MemberState.LEFT)) {
        return Math.max(0, member.millisSinceHeard());
      }
    }
    return -1;
  }

  /** Tells the other members whether this node counts itself slow. */
  public void setDegraded(boolean degraded) {
    transport.setDegraded(degraded);
  }

  /** True when {@code nodeId} last said it is slow. */
  public boolean isDegraded(long nodeId) {
    MemberView view = view(nodeId);
    return view != null && view.degraded();
  }

  /** This node's Lifeguard local health score as of the last tick: 0 is healthy. */
  public int localHealthScore() {
    return transport.latestStatus().localHealthScore();
  }

  /** The view as of the last tick (a few tens of milliseconds old at most). */
  public GossipStatus latestStatus() {
    return transport.latestStatus();
  }

  /** The view read on the gossip thread. */
  public CompletableFuture<GossipStatus> status() {
    return transport.status();
  }

  @Override
  public void close() {
    transport.leave();
    try {
      Thread.sleep(leaveWaitMillis); // lets the LEFT update ride a few gossip rounds; bounded
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    transport.close();
    if (keyFile != null) {
      keyFile.close();
    }
    log.info("gossip stopped");
  }
}
