package io.ringkv.server.config;

/**
 * Every setting a node understands. The name is both the YAML key and the command-line flag ({@code
 * --name value} or {@code --name=value}); flags override the file. Integer settings carry their
 * valid range; the defaults live here so that {@code --help} and the code agree.
 */
public enum Setting {
  CONFIG("config", null, "YAML file with settings (flags override it)"),
  DATA_DIR("data-dir", null, "directory of the node's data (required)"),
  CLUSTER_ID("cluster-id", "ringkv", "cluster name; peers of another cluster are refused"),
  NODE_ID("node-id", "1", "this node's id, > 0, unique in the cluster", 1, Long.MAX_VALUE),
  HOST("host", "127.0.0.1", "default host of the client, peer and metrics addresses"),
  CLIENT_ADDR("client-addr", null, "gRPC listen address, host:port (default <host>:7379)"),
  PEER_ADDR("peer-addr", null, "peer transport listen address (default <host>:7380)"),
  METRICS_ADDR("metrics-addr", null, "metrics/health HTTP address (default <host>:7390)"),
  ADVERTISE_CLIENT_ADDR(
      "advertise-client-addr", null, "client address told to others (default: client-addr)"),
  ADVERTISE_PEER_ADDR(
      "advertise-peer-addr", null, "peer address told to others (default: peer-addr)"),
  TLS_CERT_FILE(
      "tls-cert-file",
      null,
      "PEM certificate chain of this node (leaf first) for the client listener, the peer listener"
          + " and the node's connections to peers; with tls-key-file and tls-ca-file it turns TLS"
          + " on, and plaintext is then refused (default: none, plaintext; the metrics/health HTTP"
          + " port stays plaintext; gossip is encrypted by gossip-key-file)"),
  TLS_KEY_FILE(
      "tls-key-file",
      null,
      "PEM private key of tls-cert-file, PKCS#8 unencrypted (BEGIN PRIVATE KEY) (default: none)"),
  TLS_CA_FILE(
      "tls-ca-file",
      null,
      "PEM certificates of the cluster CA: a peer must present a node certificate signed by it,"
          + " and a client certificate must be signed by it (default: none)"),
  CLIENT_TLS_CLIENT_AUTH(
      "client-tls-client-auth",
      "optional",
      "client certificates on the client listener with TLS on: none (not asked for), optional"
          + " (asked for; one offered must be signed by tls-ca-file) or require (a client without"
          + " one is refused); peers always need one"),
  TLS_RELOAD_INTERVAL_MILLIS(
      "tls-reload-interval-millis",
      Long.toString(TlsSettings.RELOAD_INTERVAL_MILLIS_DEFAULT),
      "how often the TLS files and gossip-key-file are read for a change; new connections"
          + " (new gossip packets) use changed files once they load, a broken change is logged"
          + " and counted and the old ones stay in use",
      100,
      3_600_000),
  MEMBERS(
      "members",
      null,
      "initial members, id@host[:clientPort[:peerPort]],... (default: this node alone)"),
  PARTITIONS(
      "partitions",
      "64",
      "partition count, a power of two",
      1,
      io.ringkv.routing.PartitionLayout.PARTITION_COUNT_MAX),
  REPLICATION_FACTOR(
      "replication-factor", null, "replicas per partition (default: min(3, member count))", 1, 7),
  VIRTUAL_TOKENS_PER_NODE(
      "virtual-tokens-per-node", "64", "tokens per node on the placement ring", 1, 4096),
  KEY_SIZE_BYTES_MAX(
      "key-size-bytes-max",
      "largest key in a request",
      Limits.DEFAULTS.keySizeBytesMax(),
      1,
      64 * 1024),
  VALUE_SIZE_BYTES_MAX(
      "value-size-bytes-max",
      "largest value in a request",
      Limits.DEFAULTS.valueSizeBytesMax(),
      0,
      64 * 1024 * 1024),
  REQUEST_SIZE_BYTES_MAX(
      "request-size-bytes-max",
      "largest client request (gRPC message)",
      Limits.DEFAULTS.requestSizeBytesMax(),
      1024,
      256 * 1024 * 1024),
  RESPONSE_SIZE_BYTES_MAX(
      "response-size-bytes-max",
      "largest response (gRPC message): a bigger Txn answer is refused, Scan pages are cut to fit",
      Limits.DEFAULTS.responseSizeBytesMax(),
      64 * 1024,
      Integer.MAX_VALUE - 1024 * 1024),
  TXN_OPS_MAX(
      "txn-ops-max",
      "most compares plus operations in one Txn",
      Limits.DEFAULTS.txnOpsMax(),
      1,
      10_000),
  SCAN_LIMIT_MAX(
      "scan-limit-max",
      "most pairs in one Scan page",
      Limits.DEFAULTS.scanLimitMax(),
      1,
      1_000_000),
  INFLIGHT_PROPOSALS_PER_PARTITION_MAX(
      "inflight-proposals-per-partition-max",
      "uncommitted proposals a partition leader holds",
      Limits.DEFAULTS.inflightProposalsPerPartitionMax(),
      1,
      1_000_000),
  PEER_FRAME_SIZE_BYTES_MAX(
      "peer-frame-size-bytes-max",
      "largest peer transport frame",
      Limits.DEFAULTS.peerFrameSizeBytesMax(),
      64 * 1024,
      Integer.MAX_VALUE - 8),
  RAFT_TICK_MILLIS(
      "raft-tick-millis", "period of the Raft timer; election timeout is 10 ticks", 100, 1, 60_000),
  RAFT_READ_MODE(
      "raft-read-mode",
      "lease",
      "how a partition leader confirms a linearizable read: lease (no round trip while a quorum"
          + " acknowledged a heartbeat within the last 8 ticks; assumes no node's timer runs more"
          + " than 10 % faster than another's; falls back to read-index otherwise) or read-index"
          + " (a heartbeat round to a quorum per read batch)"),
  RAFT_LOG_ENGINE(
      "raft-log-engine",
      "rocksdb",
      "where a node keeps its partitions' Raft log entries and votes: rocksdb (a column family of"
          + " the node's RocksDB) or segmented (one append-only, group-committed log file stream of"
          + " all partitions, under the store's raftlog directory); fixed when the data directory is"
          + " created: a data directory of the other engine keeps its own while this is left at its"
          + " default, and is refused when this is set"),
  LOG_COMPACTION_ENTRIES(
      "log-compaction-entries",
      "a partition's Raft log is compacted once it holds more applied entries than this",
      10_000,
      2,
      100_000_000),
  LEADER_BALANCE_INTERVAL_MILLIS(
      "leader-balance-interval-millis",
      "how often a leader hands each partition to its preferred replica when that one is"
          + " connected (spreads leaders evenly); 0 turns balancing off",
      5_000,
      0,
      3_600_000),
  CHANGEFEED_RETENTION_CHECK_INTERVAL_MILLIS(
      "changefeed-retention-check-interval-millis",
      "10000",
      "how often the node drops change records older than the retention age from every partition",
      10,
      3_600_000),
  CHANGEFEED_RETENTION_AGE_MILLIS(
      "changefeed-retention-age-millis",
      Long.toString(io.ringkv.storage.StorageOptions.CHANGEFEED_RETENTION_AGE_DEFAULT.toMillis()),
      "change records older than this are dropped (Watch cursors before them get 'compacted')",
      100,
      366L * 24 * 3_600_000),
  SNAPSHOT_SIZE_BYTES_MAX(
      "snapshot-size-bytes-max",
      Long.toString(NodeConfig.SNAPSHOT_SIZE_BYTES_MAX_DEFAULT),
      "largest partition snapshot sent or accepted (streamed in chunks under the frame limit)",
      1024,
      Long.MAX_VALUE / 2),
  // Disk quota (issue 16).
  DISK_QUOTA_BYTES(
      "disk-quota-bytes",
      Long.toString(NodeConfig.DISK_QUOTA_BYTES_DEFAULT),
      "past this many bytes under data-dir (measured every second) the node refuses Puts and"
          + " Txns that put (RESOURCE_EXHAUSTED); reads and deletes still work, and the refusal"
          + " lifts once deletes, changefeed retention and compaction bring it back under; 0 = off",
      0,
      Long.MAX_VALUE / 2),
  SESSION_EXPIRY_MILLIS(
      "session-expiry-millis",
      Long.toString(NodeConfig.SESSION_EXPIRY_MILLIS_DEFAULT),
      "a client write session idle longer than this expires (its writes are refused with"
          + " SESSION_EXPIRED, never applied twice); its record is deleted after twice this",
      1_000,
      30L * 24 * 3_600_000),
  APPLY_QUEUE_BYTES_MAX(
      "apply-queue-bytes-max",
      Long.toString(PipelineLimits.APPLY_QUEUE_BYTES_MAX_DEFAULT),
      "committed bytes waiting for the apply thread; at this bound the node takes no new Raft"
          + " work until apply catches up",
      64 * 1024,
      Long.MAX_VALUE / 2),
  COMMIT_QUEUE_WRITES_MAX(
      "commit-queue-writes-max",
      "log writes waiting for the group commit; at this bound the node takes no new Raft work"
          + " until the disk catches up",
      PipelineLimits.DEFAULTS.commitQueueWritesMax(),
      1,
      1_000_000),
  RAFT_INFLIGHT_BYTES_MAX(
      "raft-inflight-bytes-max",
      Long.toString(PipelineLimits.RAFT_INFLIGHT_BYTES_MAX_DEFAULT),
      "entry bytes a partition leader sends one follower before it hears back",
      1024 * 1024,
      io.ringkv.storage.StorageOptions.BATCH_SIZE_BYTES_MAX_DEFAULT),
  PEER_SEND_QUEUE_FRAMES_MAX(
      "peer-send-queue-frames-max",
      "frames queued per disconnected peer",
      Limits.DEFAULTS.peerSendQueueFramesMax(),
      1,
      1_000_000),
  GOSSIP_ENABLED(
      "gossip-enabled",
      "true",
      "run SWIM gossip (UDP on the peer port, push-pull on TCP peer port + 1) for member"
          + " liveness"),
  GOSSIP_PRESET(
      "gossip-preset",
      "lan",
      "gossip timing preset: local (one machine), lan or wan; the gossip-* settings below"
          + " override single fields"),
  GOSSIP_PROBE_INTERVAL_MILLIS(
      "gossip-probe-interval-millis",
      null,
      "period between two probes (default: from the preset; lan 1000)",
      100,
      60_000),
  GOSSIP_PROBE_TIMEOUT_MILLIS(
      "gossip-probe-timeout-millis",
      null,
      "wait for a direct ack before asking helpers; below the probe interval (lan 500)",
      50,
      60_000),
  GOSSIP_INDIRECT_CHECKS(
      "gossip-indirect-checks",
      null,
      "helpers asked to probe a silent member (lan 3)",
      0,
      io.ringkv.gossip.GossipSettings.INDIRECT_CHECKS_MAX),
  GOSSIP_SUSPICION_MULTIPLIER(
      "gossip-suspicion-multiplier",
      null,
      "shortest suspicion timeout = this x max(1, log10 n) x probe interval (lan 4)",
      1,
      io.ringkv.gossip.GossipSettings.MULTIPLIER_MAX),
  GOSSIP_SUSPICION_MAX_TIMEOUT_MULTIPLIER(
      "gossip-suspicion-max-timeout-multiplier",
      null,
      "longest suspicion timeout (no confirmations yet) = this x the shortest (lan 6)",
      1,
      io.ringkv.gossip.GossipSettings.MULTIPLIER_MAX),
  GOSSIP_AWARENESS_MAX(
      "gossip-awareness-max",
      null,
      "Lifeguard: a node that finds itself slow stretches probe period and timeout up to this"
          + " factor (lan 8)",
      1,
      io.ringkv.gossip.GossipSettings.AWARENESS_MAX_MAX),
  GOSSIP_INTERVAL_MILLIS(
      "gossip-interval-millis", null, "period between two gossip rounds (lan 200)", 50, 60_000),
  GOSSIP_NODES(
      "gossip-nodes",
      null,
      "members sent updates per gossip round (lan 3)",
      1,
      io.ringkv.gossip.GossipSettings.GOSSIP_NODES_MAX),
  GOSSIP_PUSH_PULL_INTERVAL_MILLIS(
      "gossip-push-pull-interval-millis",
      null,
      "period between two full-state exchanges over TCP (lan 30000)",
      100,
      3_600_000),
  GOSSIP_KEY_FILE(
      "gossip-key-file",
      null,
      "file of gossip keys, one a line, base64 of 32 random bytes (openssl rand -base64 32):"
          + " every gossip datagram and push-pull is sealed with AES-256-GCM under the first key,"
          + " and a packet that no key in the file opens is dropped; re-read every"
          + " tls-reload-interval-millis (default: none, gossip is plaintext)"),
  SLOW_NODE_FSYNC_P99_MILLIS_MAX(
      "slow-node-fsync-p99-millis-max",
      "500",
      "a node whose group-commit (fsync) p99 over one check period is above this counts as slow"
          + " and hands its leaderships to healthy replicas; 0 turns the fsync check off",
      0,
      3_600_000),
  SLOW_NODE_HEALTH_SCORE_MIN(
      "slow-node-health-score-min",
      "3",
      "a node whose gossip local health score (Lifeguard, 0 = healthy) is at least this counts"
          + " as slow; 0 turns the health check off",
      0,
      io.ringkv.gossip.GossipSettings.AWARENESS_MAX_MAX),
  SLOW_NODE_RECOVERY_MILLIS(
      "slow-node-recovery-millis",
      "30000",
      "a slow node takes leaderships back only after it has been healthy this long",
      0,
      3_600_000),
  WATCHES_MAX(
      "watches-max",
      "Watch streams open at once on this node; one more is refused RESOURCE_EXHAUSTED",
      WatchLimits.WATCHES_MAX_DEFAULT,
      1,
      10_000_000),
  WATCH_BUFFER_BYTES_MAX(
      "watch-buffer-bytes-max",
      Long.toString(WatchLimits.WATCH_BUFFER_BYTES_MAX_DEFAULT),
      "change bytes one Watch stream reads ahead for its consumer; a slower consumer is read for"
          + " at its own pace, never buffered beyond this",
      4 * 1024,
      256L * 1024 * 1024),
  WATCH_RESPONSE_EVENTS_MAX(
      "watch-response-events-max",
      "events in one Watch response (a revision is split only when its bytes exceed a response)",
      WatchLimits.WATCH_RESPONSE_EVENTS_MAX_DEFAULT,
      1,
      100_000),
  WATCH_PROGRESS_INTERVAL_MILLIS(
      "watch-progress-interval-millis",
      Long.toString(WatchLimits.WATCH_PROGRESS_INTERVAL_MILLIS_DEFAULT),
      "an idle Watch stream gets a progress response (cursor, resolved revisions) this often",
      10,
      3_600_000),
  DEBUG_WATCH_DROP_ONE_IN(
      "debug-watch-drop-one-in",
      "0",
      "UNSAFE, testing only: every N-th event a Watch stream would deliver is dropped (0 = off;"
          + " proves the Jepsen changefeed checker catches a gap); needs allow-unsafe-debug",
      0,
      1_000_000_000),
  JOIN(
      "join",
      null,
      "client addresses of running members, host:port,...: start empty and wait to be added with"
          + " `ringctl cluster join` (members is then not used)"),
  REBALANCE_MOVES_CONCURRENT_MAX(
      "rebalance-moves-concurrent-max",
      "replica moves the meta leader runs at once, cluster-wide",
      MembershipSettings.REBALANCE_MOVES_CONCURRENT_MAX_DEFAULT,
      1,
      1024),
  REBALANCE_BYTES_PER_SECOND_MAX(
      "rebalance-bytes-per-second-max",
      Long.toString(MembershipSettings.REBALANCE_BYTES_PER_SECOND_MAX_DEFAULT),
      "snapshot bytes per second one node sends for replica moves",
      64 * 1024,
      64L * 1024 * 1024 * 1024),
  DEAD_NODE_REPLACE_AFTER_MILLIS(
      "dead-node-replace-after-millis",
      Long.toString(MembershipSettings.DEAD_NODE_REPLACE_AFTER_MILLIS_DEFAULT),
      "a member gossip has held dead this long has its replicas re-created elsewhere (0 = never)",
      0,
      7L * 24 * 3600 * 1000),
  AUTH_USER_REQUESTS_PER_SECOND_MAX(
      "auth-user-requests-per-second-max",
      Long.toString(AuthSettings.USER_REQUESTS_PER_SECOND_MAX_DEFAULT),
      "with auth on, requests per second one user may make of this node (token bucket; more are"
          + " refused RESOURCE_EXHAUSTED with a retry-after-millis trailer); 0 = no limit",
      0,
      1_000_000_000),
  AUTH_USER_REQUEST_BURST_MAX(
      "auth-user-request-burst-max",
      Long.toString(AuthSettings.USER_REQUEST_BURST_MAX_DEFAULT),
      "requests one user may make at once after being idle (the bucket's size); 0 = one second"
          + " of auth-user-requests-per-second-max",
      0,
      1_000_000_000),
  DEBUG_MOVE_SKIP_SNAPSHOT_DATA(
      "debug-move-skip-snapshot-data",
      "false",
      "UNSAFE, testing only: a received snapshot installs its index, term and configuration but"
          + " not its data (a moved replica loses data; proves the membership checks catch it);"
          + " needs allow-unsafe-debug"),
  DEBUG_UNSAFE_STALE_READS(
      "debug-unsafe-stale-reads",
      "false",
      "UNSAFE, testing only: serve linearizable reads from the local replica without ReadIndex"
          + " (stale reads; proves the Jepsen suite catches them); needs allow-unsafe-debug"),
  DEBUG_UNSYNCED_WRITES(
      "debug-unsynced-writes",
      "false",
      "UNSAFE, testing only: storage writes stay in the node's memory (RocksDB's WAL buffer, or"
          + " the segmented Raft log's batches, written out at most once a second) and are never"
          + " fsynced, yet acknowledged (nodes"
          + " killed all at once lose up to a second of acknowledged writes; proves the crash-all"
          + " nemesis catches it); needs allow-unsafe-debug"),
  ALLOW_UNSAFE_DEBUG(
      "allow-unsafe-debug", "false", "permit debug-unsafe-* settings; never in production");

  public static final int CLIENT_PORT_DEFAULT = 7379;
  public static final int PEER_PORT_DEFAULT = 7380;
  public static final int METRICS_PORT_DEFAULT = 7390;

  private final String settingName;
  private final String defaultValue;
  private final String description;
  private final long minimum;
  private final long maximum;
  private final boolean integer;

  Setting(String settingName, String defaultValue, String description) {
    this.settingName = settingName;
    this.defaultValue = defaultValue;
    this.description = description;
    this.minimum = 0;
    this.maximum = 0;
    this.integer = false;
  }

  Setting(String settingName, String defaultValue, String description, long minimum, long maximum) {
    this.settingName = settingName;
    this.defaultValue = defaultValue;
    this.description = description;
    this.minimum = minimum;
    this.maximum = maximum;
    this.integer = true;
  }

  /** A limit. */
  Setting(String settingName, String description, int defaultValue, long minimum, long maximum) {
    this(settingName, Integer.toString(defaultValue), description, minimum, maximum);
  }

  /** The YAML key and flag name (without the leading dashes). */
  public String settingName() {
    return settingName;
  }

  /** The default as text, or null when there is none (or it is derived from other settings). */
  public String defaultValue() {
    return defaultValue;
  }

  public String description() {
    return description;
  }

  public boolean isInteger() {
    return integer;
  }

  public long minimum() {
    return minimum;
  }

  public long maximum() {
    return maximum;
  }

  /** The setting called {@code name}, or null. */
  public static Setting byName(String name) {
    for (Setting setting : values()) {
      if (setting.settingName.equals(name)) {
        return setting;
      }
    }
    return null;
  }

  /** One line per setting, for {@code --help}. */
  public static String usage() {
    StringBuilder text = new StringBuilder();
    for (Setting setting : values()) {
      text.append(String.format("  --%-38s %s", setting.settingName, setting.description));
      if (setting.defaultValue != null) {
        text.append(" [").append(setting.defaultValue).append(']');
      }
      if (setting.integer) {
        text.append(" (").append(setting.minimum).append("..").append(setting.maximum).append(')');
      }
      text.append('\n');
    }
    return text.toString();
  }
}
