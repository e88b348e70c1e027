package io.ringkv.server;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.SnapshotChunk;
import io.ringkv.proto.internal.SnapshotChunkAck;
import io.ringkv.raft.Message;
import io.ringkv.server.auth.AuthFollower;
import io.ringkv.server.auth.AuthService;
import io.ringkv.server.auth.AuthStore;
import io.ringkv.server.auth.AuthView;
import io.ringkv.server.auth.CallerCredentials;
import io.ringkv.server.auth.UserRateLimiter;
import io.ringkv.server.config.Member;
import io.ringkv.server.config.NodeConfig;
import io.ringkv.server.gossip.NodeGossip;
import io.ringkv.server.membership.ClusterMapFile;
import io.ringkv.server.membership.ClusterMapStart;
import io.ringkv.server.membership.ClusterMapView;
import io.ringkv.server.membership.ClusterMaps;
import io.ringkv.server.membership.GrpcReplicaOps;
import io.ringkv.server.membership.LeftBehindReplicas;
import io.ringkv.server.membership.MapFollower;
import io.ringkv.server.membership.MembershipMetrics;
import io.ringkv.server.membership.MetaCoordinator;
import io.ringkv.server.membership.MetaMapStore;
import io.ringkv.server.membership.Rebalancer;
import io.ringkv.server.membership.ReplicaAdminService;
import io.ringkv.server.metrics.MetricsHttpServer;
import io.ringkv.server.raft.DriverSettings;
import io.ringkv.server.raft.MultiRaftDriver;
import io.ringkv.server.snapshot.ChunkSender;
import io.ringkv.server.snapshot.RaftSnapshotPort;
import io.ringkv.server.snapshot.SnapshotTransferSettings;
import io.ringkv.server.snapshot.SnapshotTransfers;
import io.ringkv.server.tls.GrpcTlsContexts;
import io.ringkv.server.tls.NodeTls;
import io.ringkv.server.transport.PeerTransport;
import io.ringkv.server.transport.PeerTransportSettings;
import io.ringkv.storage.StorageEngine;
import io.ringkv.storage.StorageOptions;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running ringkv node: metrics/health HTTP, storage, the multi-Raft driver, the peer transport,
 * and the gRPC server with reflection, the standard health service, KV, Watch and Cluster.
 *
 * <p>Start-up order: metrics first (so a node that fails later is still observable), then storage
 * and the driver's replicas (bootstrapped from the placement on first start), the peer transport,
 * the driver loop, then the client gRPC server; the node reports SERVING (gRPC health and /health)
 * only once all are up, and NOT_SERVING as the first step of closing. Closing runs the other way.
 */
public final class RingkvNode implements AutoCloseable {
  public static final String VERSION = "0.1.0-SNAPSHOT";

  /** How long close() lets in-flight gRPC calls finish before cancelling them. */
  static final long SHUTDOWN_GRACE_MILLIS = 5_000;

  private static final Logger log = LoggerFactory.getLogger(RingkvNode.class);

  /** The configuration as given, then shaped by the cluster map the node starts from. */
  private NodeConfig config;

  private ClusterMapView mapView;
  private final PrometheusMeterRegistry registry;
  private final AtomicBoolean serving = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();

  /** Set by {@link #crash}: calls in flight are cut at once instead of given a grace period. */
  private volatile boolean crashing;

  private final HealthStatusManager health = new HealthStatusManager();

  /** Runs the client port's calls that may block (all but KvService.DIRECT_METHODS). */
  private final ExecutorService grpcCallExecutor =
      Executors.newCachedThreadPool(
          Thread.ofPlatform().name("ringkv-grpc-call-", 0).daemon().factory());

  private MetricsHttpServer metricsServer;
  private PeerTransport transport;
  private NodeGossip gossip;
  private StorageEngine engine;
  private ChangefeedRetention changefeedRetention;
  private MultiRaftDriver driver;
  private SnapshotTransfers snapshotTransfers;
  private PeerChannels peerChannels;
  private MapFollower mapFollower;
  private GrpcReplicaOps replicaOps;

  /** Users, roles and the auth switch as this node knows them (followed from the meta group). */
  private final AuthView authView = new AuthView();

  private AuthFollower authFollower;

  /** Decides AddNode, RemoveNode and Plan (on the meta leader; forwarded there from elsewhere). */
  private MetaCoordinator metaCoordinator;

  private KvService kvService;
  private DiskQuota diskQuota;
  private BackupService backupService;
  private io.ringkv.server.watch.WatchService watchService;
  private Server grpcServer;

  /** TLS of every listener and outgoing connection, or null when the node runs plaintext. */
  private NodeTls tls;

  /** How this node opens gRPC channels to other nodes (from its own host, TLS when on). */
  private BoundChannels boundChannels;

  private RingkvNode(NodeConfig config) {
    this.config = config;
    this.registry = MetricsHttpServer.newRegistry();
  }

  /** Starts a node; on failure everything already started is closed again. */
  public static RingkvNode start(NodeConfig config) throws IOException, InterruptedException {
    RingkvNode node = new RingkvNode(config);
    try {
      node.startServices();
    } catch (IOException | InterruptedException | RuntimeException e) {
      node.close();
      throw e;
    }
    return node;
  }

  private void startServices() throws IOException, InterruptedException {
    log.info(
        "starting node {} of cluster {} (data dir {}, {} members, {} partitions, RF {})",
        config.nodeId(),
        config.clusterId(),
        config.dataDir(),
        config.members().size(),
        config.partitionCount(),
        config.replicationFactor());
    metricsServer =
        new MetricsHttpServer(config.metricsAddress().toSocketAddress(), registry, serving::get)
            .start();

    PeerTransportSettings peerSettings =
        PeerTransportSettings.defaults(
                config.clusterId(), config.nodeId(), config.peerAddress().toSocketAddress())
            .withLimits(
                config.limits().peerFrameSizeBytesMax(), config.limits().peerSendQueueFramesMax());
    long seed = System.nanoTime() ^ config.nodeId();
    log.info("peer transport and Raft jitter seed {}", seed);
    SplittableRandom random = new SplittableRandom(seed);
    startTls();

    Files.createDirectories(config.dataDir());
    ClusterMapFile mapFile = new ClusterMapFile(config.dataDir());
    ClusterMapStart.Start mapStart =
        ClusterMapStart.choose(
            config,
            mapFile,
            ClusterMapStart.grpcFetcher(config.clusterId(), boundChannels),
            System::currentTimeMillis);
    mapView = new ClusterMapView(mapStart.map());
    config = ClusterMapStart.shapedBy(config, mapStart.map());
    engine =
        StorageEngine.open(
            StorageOptions.builder(
                    config.dataDir().resolve("store"), config.clusterId(), config.nodeId())
                .keySizeBytesMax(config.limits().keySizeBytesMax())
                .valueSizeBytesMax(config.limits().valueSizeBytesMax())
                .commitQueueWritesMax(config.pipeline().commitQueueWritesMax())
                .commitBatchWritesMax(
                    Math.min(
                        StorageOptions.COMMIT_BATCH_WRITES_MAX_DEFAULT,
                        config.pipeline().commitQueueWritesMax()))
                .changefeedRetentionAge(
                    java.time.Duration.ofMillis(config.changefeedRetentionAgeMillis()))
                .meterRegistry(registry)
                .debugUnsyncedWrites(config.debugUnsyncedWrites())
                .raftLogEngine(config.raftLogEngine())
                .raftLogEngineFollowsStore(!config.raftLogEngineSet())
                .build());
    List<List<Long>> replicas = ClusterMapStart.partitionVoters(mapStart.map());
    Map<Integer, List<Long>> local = mapStart.bootstrap() ? bootstrapSet(mapStart.map()) : Map.of();
    java.nio.file.Path snapshots = config.dataDir().resolve("snapshots");
    Files.createDirectories(snapshots);
    int frameMax = config.limits().peerFrameSizeBytesMax();
    DriverSettings driverSettings =
        new DriverSettings(
            config.nodeId(),
            config.raftTickMillis(),
            DriverSettings.ELECTION_TIMEOUT_TICKS_DEFAULT,
            1,
            config.logCompactionEntries(),
            config.limits().inflightProposalsPerPartitionMax(),
            config.snapshotSizeBytesMax(),
            frameMax / 2,
            config.sessionExpiryMillis(),
            DriverSettings.INBOX_TASKS_MAX_DEFAULT,
            snapshots,
            config.pipeline().applyQueueBytesMax(),
            config.pipeline().raftInflightBytesMax(),
            config.raftReadOnlyMode());
    driver =
        new MultiRaftDriver(
            driverSettings,
            engine,
            local,
            config.partitionCount(),
            Clock.systemUTC(),
            System::nanoTime,
            random.split(),
            registry);

    if (config.membership().debugMoveSkipSnapshotData()) {
      driver.enableDebugSkipSnapshotData();
    }
    // After the bootstrap is durable: from now on this node starts from the map, never again from
    // the configured members (a replica destroyed at run time must not be bootstrapped again).
    mapFile.write(mapView.current());
    mapView.addListener(mapFile::write);

    SnapshotTransferSettings snapshotSettings =
        SnapshotTransferSettings.forFrameLimit(
            frameMax, driverSettings.snapshotSizeBytesMax(), snapshots);
    snapshotSettings.checkFits(frameMax);
    PeerTransport[] transportRef = new PeerTransport[1];
    snapshotTransfers =
        new SnapshotTransfers(
            config.nodeId(),
            config.peers().stream().map(Member::nodeId).collect(Collectors.toSet()),
            snapshotSettings,
            new ChunkSender() {
              @Override
              public boolean sendChunk(long toNodeId, SnapshotChunk chunk) {
                return transportRef[0].sendSnapshotChunk(toNodeId, chunk);
              }

              @Override
              public boolean sendAck(long toNodeId, SnapshotChunkAck ack) {
                return transportRef[0].sendSnapshotChunkAck(toNodeId, ack);
              }
            },
            new RaftSnapshotPort() {
              @Override
              public boolean hosts(int partition) {
                return driver.hosts(partition);
              }

              @Override
              public void deliverSnapshot(long fromNodeId, int partition, Message message) {
                driver.deliverSnapshot(fromNodeId, partition, message);
              }

              @Override
              public void reportSnapshot(int partition, long toNodeId, boolean success) {
                driver.reportSnapshot(partition, toNodeId, success);
              }
            },
            driver,
            Clock.systemUTC(),
            random.nextLong() & Long.MAX_VALUE,
            registry);
    snapshotTransfers.limitSendRate(
        config.membership().rebalanceBytesPerSecondMax(), System::nanoTime);
    transport =
        new PeerTransport(
                peerSettings,
                snapshotTransfers,
                registry,
                random.split(),
                tls == null ? null : tls.peerTls())
            .start();
    transportRef[0] = transport;
    for (Member peer : config.peers()) {
      transport.setPeer(peer.nodeId(), peer.peerAddress().toSocketAddress());
    }
    gossip = startGossip(random.split());
    if (config.leaderBalanceIntervalMillis() > 0) {
      driver.enableLeaderBalancing(
          Math.max(1, config.leaderBalanceIntervalMillis() / config.raftTickMillis()),
          this::mayLead);
      if (gossip != null) {
        NodeGossip own = gossip;
        driver.enableSlowNodeAwareness(config.slowNode(), own::localHealthScore, own::setDegraded);
      }
    }
    driver.start(transport::sendRaftBatch, snapshotTransfers::ship);
    changefeedRetention =
        ChangefeedRetention.start(
            engine, driver::partitions, config.changefeedRetentionCheckIntervalMillis(), registry);
    // Routing, forwarding and the Cluster API follow the view of the cluster map.
    peerChannels =
        new PeerChannels(
            config.nodeId(), boundChannels, mapView, config.limits().responseSizeBytesMax());
    MembersFollower membersFollower =
        new MembersFollower(config.nodeId(), transport, snapshotTransfers, peerChannels);
    membersFollower.accept(mapView.current());
    mapView.addListener(membersFollower);
    mapView.addListener(new LeftBehindReplicas(config.nodeId(), driver));

    if (config.debugUnsafeStaleReads()) {
      log.warn("UNSAFE debug-unsafe-stale-reads is on: linearizable reads may return stale data");
    }
    if (config.debugUnsyncedWrites()) {
      log.warn("UNSAFE debug-unsynced-writes is on: acknowledged writes are not durable");
    }
    mapFollower =
        new MapFollower(
                config.nodeId(),
                config.clusterId(),
                boundChannels,
                driver,
                mapView,
                CallerCredentials.callerOrNode(authView))
            .start();
    replicaOps =
        new GrpcReplicaOps(mapView, boundChannels, CallerCredentials.callerOrNode(authView));
    AuthStore authStore =
        new AuthStore(driver, () -> ClusterMaps.metaGroup(mapView.partitionCount()));
    authFollower =
        new AuthFollower(
                config.nodeId(),
                config.clusterId(),
                authStore,
                authView,
                () -> mapView.votersOf(ClusterMaps.metaGroup(mapView.partitionCount())),
                mapFollower::channelTo)
            .start();
    NodeGossip ownGossip = gossip;
    MetaMapStore metaStore =
        new MetaMapStore(
            driver,
            ClusterMaps.metaGroup(config.partitionCount()),
            this::mapBeforeFirstWrite,
            written -> {
              mapView.adopt(written);
              mapFollower.pushToMembers(written);
            });
    metaCoordinator =
        new MetaCoordinator(
                config.nodeId(),
                driver,
                mapView,
                new Rebalancer(
                    metaStore,
                    replicaOps,
                    config.membership(),
                    Clock.systemUTC(),
                    nodeId -> ownGossip == null ? -1 : ownGossip.millisDead(nodeId),
                    new MembershipMetrics(registry)),
                mapFollower::channelTo,
                ForwardingHeaders::isForwarded)
            .start();
    StorageEngine quotaEngine = engine;
    diskQuota =
        new DiskQuota(
                config.nodeId(),
                config.diskQuotaBytes(),
                config.dataDir(),
                quotaEngine::compactAll,
                System::nanoTime,
                registry)
            .start();
    kvService =
        new KvService(
            config.nodeId(),
            config.partitionLayout(),
            config.limits(),
            driver,
            peerChannels,
            mapView,
            transport::isConnected,
            config.debugUnsafeStaleReads(),
            config.sessionExpiryMillis(),
            System::nanoTime,
            registry,
            diskQuota);
    backupService = kvService.backupService(config.clusterId(), config.nodeId(), registry);
    watchService =
        new io.ringkv.server.watch.WatchService(
            config.partitionLayout(),
            config.limits(),
            config.watch(),
            driver,
            engine,
            mapView,
            registry,
            System::nanoTime);
    NettyServerBuilder serverBuilder =
        NettyServerBuilder.forAddress(config.clientAddress().toSocketAddress());
    if (tls != null) {
      // Plaintext is refused: the listener speaks TLS only, and counts every failed handshake. The
      // SSL session (and with it a client certificate) is in each call's
      // Grpc.TRANSPORT_ATTR_SSL_SESSION.
      serverBuilder.protocolNegotiator(GrpcTlsContexts.serverNegotiator(tls));
    }
    UserRateLimiter rateLimiter =
        new UserRateLimiter(
            config.auth().userRequestsPerSecondMax(),
            config.auth().userRequestBurstMax(),
            System::nanoTime);
    authView.addListener(record ->
        rateLimiter.retain(
            record.getUsersList().stream()
                .map(io.ringkv.proto.internal.StoredUser::getName)
                .collect(Collectors.toSet())));
    AuthGate gate = new AuthGate(authView, rateLimiter, registry);
    AuthService authService =
        new AuthService(
            config.nodeId(),
            authStore,
            authView,
            metaCoordinator::leadsMeta,
            this::metaLeaderHint,
            mapFollower::channelTo,
            ForwardingHeaders::isForwarded,
            new SecureRandom());
    grpcServer =
        serverBuilder
            .maxInboundMessageSize(config.limits().requestSizeBytesMax())
            // KV calls that never block run on the transport thread: no hand-off per request;
            // every other call runs on a pool thread (KvService.callExecutors).
            .directExecutor()
            .callExecutor(KvService.callExecutors(grpcCallExecutor))
            .addStreamTracerFactory(new GrpcCallMetrics(registry))
            // Both reflection protocols: v1 for current tools, v1alpha for grpcurl before 1.9 and
            // the
            // many clients that still speak only that one.
            .addService(ProtoReflectionServiceV1.newInstance())
            .addService(reflectionV1Alpha())
            .addService(health.getHealthService())
            .intercept(new ForwardingHeaders())
            .addService(MalformedRequests.refusedAsInvalid(gated(kvService.bindService(), gate)))
            .addService(
                MalformedRequests.refusedAsInvalid(gated(backupService.bindService(), gate)))
            .addService(
                MalformedRequests.refusedAsInvalid(
                    gated(kvService.nodeScanService().bindService(), gate)))
            .addService(MalformedRequests.refusedAsInvalid(gated(watchService.bindService(), gate)))
            .addService(
                MalformedRequests.refusedAsInvalid(
                    gated(
                        new ReplicaAdminService(
                                config.clusterId(), config.nodeId(), mapView, driver)
                            .bindService(),
                        gate)))
            .addService(
                MalformedRequests.refusedAsInvalid(
                    gated(
                        new ClusterService(
                                config,
                                mapView,
                                driver,
                                peerChannels,
                                transport::isConnected,
                                gossip,
                                metaCoordinator)
                            .bindService(),
                        gate)))
            .addService(MalformedRequests.refusedAsInvalid(gated(authService.bindService(), gate)))
            // Open: nodes without a meta replica learn the record through it (no secret in it).
            .addService(
                MalformedRequests.refusedAsInvalid(
                    new AuthFollower.SyncService(config.clusterId(), authStore).bindService()))
            .build()
            .start();
    serving.set(true);
    health.setStatus("", io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
    log.info(
        "node {} serving: client {}, peer {}, metrics {}",
        config.nodeId(),
        clientAddress(),
        transport.localAddress(),
        metricsServer.address());
  }

  /**
   * Loads the TLS files when the settings name them and starts watching them; decides how this
   * node's gRPC channels to other nodes are opened.
   */
  private void startTls() throws IOException {
    String selfHost = config.clientAddress().host();
    if (!config.tls().enabled()) {
      log.info("TLS is off: client and peer traffic are plaintext");
      boundChannels = BoundChannels.plaintext(selfHost);
      return;
    }
    tls = NodeTls.load(config.tls(), registry).startReloading();
    boundChannels = BoundChannels.tls(selfHost, GrpcTlsContexts.channel(tls));
  }

  /** This node's TLS (certificate in use, reload), or null when it runs plaintext. */
  public NodeTls tls() {
    return tls;
  }

  /**
   * The map the meta group holds before its first write: only then can the key be absent, and then
   * every node still knows the initial map (epoch 1), which all initial members computed alike.
   */
  private ClusterMap mapBeforeFirstWrite() {
    ClusterMap known = mapView.current();
    if (known.getEpoch() != ClusterMaps.INITIAL_EPOCH) {
      throw new IllegalStateException(
          "the meta group holds no cluster map but this node knows epoch " + known.getEpoch());
    }
    return known;
  }

  /** {@code service} behind the auth gate (checked after decoding, before the service). */
  private static io.grpc.ServerServiceDefinition gated(
      io.grpc.ServerServiceDefinition service, AuthGate gate) {
    return io.grpc.ServerInterceptors.intercept(service, gate);
  }

  /** The meta leader this node knows, else a meta voter other than itself, else 0. */
  private long metaLeaderHint() {
    int meta = ClusterMaps.metaGroup(mapView.partitionCount());
    io.ringkv.server.raft.GroupStatus status = driver.status(meta);
    if (status != null && status.leaderId() != 0) {
      return status.leaderId();
    }
    for (long voter : mapView.votersOf(meta)) {
      if (voter != config.nodeId()) {
        return voter;
      }
    }
    return 0;
  }

  /** Users, roles and the auth switch as this node knows them. */
  public AuthView authView() {
    return authView;
  }

  /** Gossip on the advertised peer address, seeded with the other members; null when off. */
  private NodeGossip startGossip(SplittableRandom random) throws InterruptedException, IOException {
    if (!config.gossip().enabled()) {
      log.info("gossip is off (gossip-enabled false)");
      return null;
    }
    log.info("gossip preset {}: {}", config.gossip().preset(), config.gossip().settings());
    if (config.tls().enabled() && config.gossip().keyFile() == null) {
      log.warn(
          "TLS is on but gossip is unencrypted and unauthenticated: anyone who can send a datagram"
              + " to the peer port can read membership and make nodes look dead; set"
              + " gossip-key-file");
    }
    return NodeGossip.start(
        config.clusterId(),
        config.nodeId(),
        config.advertisePeerAddress().host(),
        config.advertisePeerAddress().port(),
        config.peers().stream().map(peer -> peer.peerAddress().toString()).toList(),
        config.gossip().settings(),
        random,
        config.gossip().keyFile(),
        config.tls().reloadIntervalMillis(),
        registry);
  }

  /**
   * Whether leadership may be handed to {@code nodeId}: connected, and, with gossip on, neither
   * dead nor gone by gossip nor saying it is slow.
   */
  private boolean mayLead(long nodeId) {
    NodeGossip own = gossip;
    return transport.isConnected(nodeId)
        && (own == null || (!own.isGone(nodeId) && !own.isDegraded(nodeId)));
  }

  /** This node's gossip, or null when gossip is off. */
  public NodeGossip gossip() {
    return gossip;
  }

  @SuppressWarnings("deprecation") // the v1alpha service is deprecated upstream, not withdrawn
  private static io.grpc.BindableService reflectionV1Alpha() {
    return io.grpc.protobuf.services.ProtoReflectionService.newInstance();
  }

  /** The newest cluster map this node knows (persisted in the data directory). */
  public ClusterMapView mapView() {
    return mapView;
  }

  /**
   * The groups (data partitions and the meta group) {@code map} places on this node, with their
   * voters: what a first start bootstraps.
   */
  private Map<Integer, List<Long>> bootstrapSet(ClusterMap map) {
    Map<Integer, List<Long>> local = new HashMap<>();
    for (int group = 0; group < map.getGroupsCount(); group++) {
      List<Long> voters = map.getGroups(group).getVotersList();
      if (voters.contains(config.nodeId())) {
        local.put(group, List.copyOf(voters));
      }
    }
    return local;
  }

  public NodeConfig config() {
    return config;
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /** This node's multi-Raft driver (for operations on its local replicas, and tests). */
  public MultiRaftDriver driver() {
    return driver;
  }

  public boolean isServing() {
    return serving.get();
  }

  public InetSocketAddress clientAddress() {
    return (InetSocketAddress) grpcServer.getListenSockets().get(0);
  }

  public InetSocketAddress metricsAddress() {
    return metricsServer.address();
  }

  public InetSocketAddress peerAddress() {
    return transport.localAddress();
  }

  /** The node's storage (tests inspect what the schedules did to it). */
  StorageEngine storageEngine() {
    return engine;
  }

  /** Partitions with a replica on this node. */
  List<Integer> hostedPartitions() {
    return driver.partitions();
  }

  /** Blocks until the gRPC server has terminated (after {@link #close()}). */
  public void awaitTermination() throws InterruptedException {
    grpcServer.awaitTermination();
  }

  /**
   * Stops the node the way a kill does to its clients, for in-process tests: every call in flight
   * (an export stream, a forwarded write) is cut at once, with no grace period; then the node
   * closes as {@link #close} does.
   */
  void crash() {
    crashing = true;
    close();
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    serving.set(false);
    health.enterTerminalState();
    if (watchService != null) {
      // Streams never end by themselves: end them first (UNAVAILABLE, resume elsewhere), so the
      // server's graceful shutdown does not wait its whole grace period for them.
      watchService.close();
    }
    if (grpcServer != null && crashing) {
      grpcServer.shutdownNow();
    } else if (grpcServer != null) {
      grpcServer.shutdown();
      try {
        if (!grpcServer.awaitTermination(SHUTDOWN_GRACE_MILLIS, TimeUnit.MILLISECONDS)) {
          grpcServer.shutdownNow();
        }
      } catch (InterruptedException e) {
        grpcServer.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
    grpcCallExecutor.shutdownNow();
    if (metaCoordinator != null) {
      metaCoordinator.close();
    }
    if (authFollower != null) {
      authFollower.close();
    }
    if (mapFollower != null) {
      mapFollower.close();
    }
    if (replicaOps != null) {
      replicaOps.close();
    }
    if (kvService != null) {
      kvService.shutdown();
    }
    if (backupService != null) {
      backupService.shutdown(); // waits for exports: they read the store closed below
    }
    if (diskQuota != null) {
      try {
        diskQuota.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (peerChannels != null) {
      peerChannels.close();
    }
    if (changefeedRetention != null) {
      changefeedRetention.close();
    }
    if (driver != null) {
      driver.close();
    }
    if (snapshotTransfers != null) {
      snapshotTransfers.close();
    }
    if (gossip != null) {
      gossip.close();
    }
    if (transport != null) {
      transport.close();
    }
    if (engine != null) {
      engine.close();
    }
    if (tls != null) {
      tls.close();
    }
    if (metricsServer != null) {
      metricsServer.close();
    }
    registry.close();
    log.info("node {} stopped", config.nodeId());
  }
}
