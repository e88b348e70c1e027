package io.ringkv.server.config;

import io.ringkv.gossip.GossipSettings;
import io.ringkv.routing.PartitionLayout;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Builds a {@link NodeConfig} from an optional YAML file and command-line flags (flags win).
 *
 * <p>Both sources use the names of {@link Setting}. The YAML file is a flat map of those names;
 * {@code members} may be a YAML list or a comma-separated string. Unknown names are errors (a typo
 * must not silently fall back to a default). Everything is validated here, and the first problem
 * stops start-up with a {@link ConfigException} naming the setting.
 */
public final class ConfigLoader {
  /** Largest config file read, so a wrong path (say, a disk image) fails fast. */
  public static final long CONFIG_FILE_SIZE_BYTES_MAX = 1024 * 1024;

  private static final Pattern CLUSTER_ID_PATTERN = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final int REPLICATION_FACTOR_DEFAULT_MAX = 3;

  private ConfigLoader() {}

  /** Parses flags, reads the {@code --config} file if one is named, and validates everything. */
  public static NodeConfig load(String[] args) {
    Map<Setting, String> flags = parseFlags(args);
    Map<Setting, String> values = new EnumMap<>(Setting.class);
    String configFile = flags.get(Setting.CONFIG);
    if (configFile != null) {
      values.putAll(readYaml(Path.of(configFile)));
    }
    values.putAll(flags);
    return build(values);
  }

  /** {@code --name value} and {@code --name=value}; anything else is an error. */
  static Map<Setting, String> parseFlags(String[] args) {
    Map<Setting, String> flags = new EnumMap<>(Setting.class);
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (!arg.startsWith("--") || arg.length() == 2) {
        throw new ConfigException(
            null, "unexpected argument '" + arg + "' (flags are --name value)");
      }
      int equals = arg.indexOf('=');
      String name = equals < 0 ? arg.substring(2) : arg.substring(2, equals);
      Setting setting = Setting.byName(name);
      if (setting == null) {
        throw new ConfigException(name, "unknown setting (see --help)");
      }
      String value;
      if (equals >= 0) {
        value = arg.substring(equals + 1);
      } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
        value = args[++i];
      } else {
        throw new ConfigException(name, "flag --" + name + " needs a value");
      }
      flags.put(setting, value);
    }
    return flags;
  }

  static Map<Setting, String> readYaml(Path file) {
    Object document;
    try {
      if (!Files.isRegularFile(file)) {
        throw new ConfigException(Setting.CONFIG.settingName(), "no such file: " + file);
      }
      if (Files.size(file) > CONFIG_FILE_SIZE_BYTES_MAX) {
        throw new ConfigException(
            Setting.CONFIG.settingName(),
            file + " is larger than " + CONFIG_FILE_SIZE_BYTES_MAX + " bytes");
      }
      try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        document = new Yaml(new SafeConstructor(new LoaderOptions())).load(reader);
      }
    } catch (IOException | YAMLException e) {
      throw new ConfigException(
          Setting.CONFIG.settingName(), "cannot read " + file + ": " + e.getMessage());
    }
    Map<Setting, String> values = new EnumMap<>(Setting.class);
    if (document == null) {
      return values;
    }
    if (!(document instanceof Map<?, ?> map)) {
      throw new ConfigException(
          Setting.CONFIG.settingName(), file + " must hold a map of setting: value");
    }
    for (Map.Entry<?, ?> entry : map.entrySet()) {
      String name = String.valueOf(entry.getKey());
      Setting setting = Setting.byName(name);
      if (setting == null || setting == Setting.CONFIG) {
        throw new ConfigException(name, "unknown setting in " + file);
      }
      values.put(setting, yamlValue(setting, entry.getValue()));
    }
    return values;
  }

  private static String yamlValue(Setting setting, Object value) {
    if (value instanceof List<?> list && (setting == Setting.MEMBERS || setting == Setting.JOIN)) {
      List<String> parts = new ArrayList<>();
      list.forEach(item -> parts.add(String.valueOf(item)));
      return String.join(",", parts);
    }
    if (value instanceof Map<?, ?> || value instanceof List<?> || value == null) {
      throw new ConfigException(setting.settingName(), "must be a single value");
    }
    return String.valueOf(value);
  }

  static NodeConfig build(Map<Setting, String> values) {
    String clusterId = text(values, Setting.CLUSTER_ID);
    if (!CLUSTER_ID_PATTERN.matcher(clusterId).matches()) {
      throw new ConfigException(
          Setting.CLUSTER_ID.settingName(),
          "must be 1 to 64 of letters, digits, '.', '_' or '-', got '" + clusterId + "'");
    }
    long nodeId = integer(values, Setting.NODE_ID);
    String dataDirText = values.get(Setting.DATA_DIR);
    if (dataDirText == null || dataDirText.isBlank()) {
      throw new ConfigException(Setting.DATA_DIR.settingName(), "is required");
    }
    String host = text(values, Setting.HOST);
    HostPort clientAddress =
        address(values, Setting.CLIENT_ADDR, host, Setting.CLIENT_PORT_DEFAULT);
    HostPort peerAddress = address(values, Setting.PEER_ADDR, host, Setting.PEER_PORT_DEFAULT);
    HostPort metricsAddress =
        address(values, Setting.METRICS_ADDR, host, Setting.METRICS_PORT_DEFAULT);
    checkDistinct(clientAddress, peerAddress, metricsAddress);

    List<Member> configuredMembers = members(values);
    Member configuredSelf =
        configuredMembers.stream().filter(m -> m.nodeId() == nodeId).findFirst().orElse(null);
    HostPort advertiseClient =
        advertised(values, Setting.ADVERTISE_CLIENT_ADDR, clientAddress, configuredSelf, true);
    HostPort advertisePeer =
        advertised(values, Setting.ADVERTISE_PEER_ADDR, peerAddress, configuredSelf, false);
    List<Member> members = new ArrayList<>(configuredMembers);
    if (configuredMembers.isEmpty()) {
      members.add(new Member(nodeId, advertiseClient, advertisePeer));
    } else if (configuredSelf == null) {
      throw new ConfigException(
          Setting.MEMBERS.settingName(), "does not list this node (node-id " + nodeId + ")");
    } else if (!configuredSelf.peerAddress().equals(advertisePeer)
        || !configuredSelf.clientAddress().equals(advertiseClient)) {
      throw new ConfigException(
          Setting.MEMBERS.settingName(),
          "lists this node as "
              + configuredSelf
              + " but it advertises client "
              + advertiseClient
              + " and peer "
              + advertisePeer);
    }
    members.sort((a, b) -> Long.compare(a.nodeId(), b.nodeId()));

    int partitionCount = (int) integer(values, Setting.PARTITIONS);
    if (partitionCount > PartitionLayout.PARTITION_COUNT_MAX
        || Integer.bitCount(partitionCount) != 1) {
      throw new ConfigException(
          Setting.PARTITIONS.settingName(),
          "must be a power of two between 1 and "
              + PartitionLayout.PARTITION_COUNT_MAX
              + ", got "
              + partitionCount);
    }
    int replicationFactor =
        values.containsKey(Setting.REPLICATION_FACTOR)
            ? (int) integer(values, Setting.REPLICATION_FACTOR)
            : Math.min(REPLICATION_FACTOR_DEFAULT_MAX, members.size());
    if (replicationFactor > members.size()) {
      throw new ConfigException(
          Setting.REPLICATION_FACTOR.settingName(),
          "is " + replicationFactor + " but there are only " + members.size() + " members");
    }
    int virtualTokens = (int) integer(values, Setting.VIRTUAL_TOKENS_PER_NODE);
    return new NodeConfig(
        clusterId,
        nodeId,
        Path.of(dataDirText),
        clientAddress,
        peerAddress,
        metricsAddress,
        advertiseClient,
        advertisePeer,
        members,
        partitionCount,
        replicationFactor,
        virtualTokens,
        limits(values),
        (int) integer(values, Setting.RAFT_TICK_MILLIS),
        readOnlyMode(values),
        integer(values, Setting.LOG_COMPACTION_ENTRIES),
        integer(values, Setting.LEADER_BALANCE_INTERVAL_MILLIS),
        unsafeDebug(values, Setting.DEBUG_UNSAFE_STALE_READS),
        unsafeDebug(values, Setting.DEBUG_UNSYNCED_WRITES),
        raftLogEngine(values),
        values.containsKey(Setting.RAFT_LOG_ENGINE),
        integer(values, Setting.CHANGEFEED_RETENTION_CHECK_INTERVAL_MILLIS),
        integer(values, Setting.CHANGEFEED_RETENTION_AGE_MILLIS),
        integer(values, Setting.SNAPSHOT_SIZE_BYTES_MAX),
        integer(values, Setting.SESSION_EXPIRY_MILLIS),
        new PipelineLimits(
            integer(values, Setting.APPLY_QUEUE_BYTES_MAX),
            (int) integer(values, Setting.COMMIT_QUEUE_WRITES_MAX),
            integer(values, Setting.RAFT_INFLIGHT_BYTES_MAX)),
        gossip(values, peerAddress, clientAddress, metricsAddress),
        new SlowNodeSettings(
            integer(values, Setting.SLOW_NODE_FSYNC_P99_MILLIS_MAX),
            (int) integer(values, Setting.SLOW_NODE_HEALTH_SCORE_MIN),
            integer(values, Setting.SLOW_NODE_RECOVERY_MILLIS)),
        watchLimits(values),
        new MembershipSettings(
            joinAddresses(values),
            (int) integer(values, Setting.REBALANCE_MOVES_CONCURRENT_MAX),
            integer(values, Setting.REBALANCE_BYTES_PER_SECOND_MAX),
            integer(values, Setting.DEAD_NODE_REPLACE_AFTER_MILLIS),
            unsafeDebug(values, Setting.DEBUG_MOVE_SKIP_SNAPSHOT_DATA)),
        tls(values),
        integer(values, Setting.DISK_QUOTA_BYTES),
        new AuthSettings(
            integer(values, Setting.AUTH_USER_REQUESTS_PER_SECOND_MAX),
            integer(values, Setting.AUTH_USER_REQUEST_BURST_MAX)));
  }

  /**
   * TLS from its three files (all or none; each must be a readable file), the client listener's
   * client-certificate mode and the reload period.
   */
  private static TlsSettings tls(Map<Setting, String> values) {
    Setting[] files = {Setting.TLS_CERT_FILE, Setting.TLS_KEY_FILE, Setting.TLS_CA_FILE};
    Path[] paths = new Path[files.length];
    int given = 0;
    for (int i = 0; i < files.length; i++) {
      paths[i] = readableFile(values, files[i]);
      if (paths[i] != null) {
        given++;
      }
    }
    if (given > 0 && given < files.length) {
      for (int i = 0; i < files.length; i++) {
        if (paths[i] == null) {
          throw new ConfigException(
              files[i].settingName(),
              "is required when any of tls-cert-file, tls-key-file, tls-ca-file is set");
        }
      }
    }
    TlsSettings.ClientAuth clientAuth;
    try {
      clientAuth = TlsSettings.ClientAuth.parse(text(values, Setting.CLIENT_TLS_CLIENT_AUTH));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(Setting.CLIENT_TLS_CLIENT_AUTH.settingName(), e.getMessage());
    }
    return new TlsSettings(
        paths[0],
        paths[1],
        paths[2],
        clientAuth,
        integer(values, Setting.TLS_RELOAD_INTERVAL_MILLIS));
  }

  /** The file a setting names, checked readable; null when the setting is not given. */
  private static Path readableFile(Map<Setting, String> values, Setting setting) {
    String value = values.get(setting);
    if (value == null || value.isBlank()) {
      return null;
    }
    Path path = Path.of(value.trim());
    if (!Files.isReadable(path) || Files.isDirectory(path)) {
      throw new ConfigException(setting.settingName(), "'" + value + "' is not a readable file");
    }
    return path;
  }

  private static List<HostPort> joinAddresses(Map<Setting, String> values) {
    String value = values.get(Setting.JOIN);
    List<HostPort> addresses = new ArrayList<>();
    if (value == null || value.isBlank()) {
      return addresses;
    }
    for (String part : value.split(",")) {
      try {
        addresses.add(HostPort.parse(part.trim(), "127.0.0.1", Setting.CLIENT_PORT_DEFAULT));
      } catch (IllegalArgumentException e) {
        throw new ConfigException(Setting.JOIN.settingName(), e.getMessage());
      }
    }
    return addresses;
  }

  /**
   * The gossip preset with single fields overridden. Millisecond settings become ticks of the
   * preset's tick length, rounded up; the combination is then checked as a whole, and a failure
   * names the setting that broke it.
   */
  private static GossipConfig gossip(
      Map<Setting, String> values, HostPort peer, HostPort client, HostPort metrics) {
    boolean enabled = bool(values, Setting.GOSSIP_ENABLED);
    String preset = text(values, Setting.GOSSIP_PRESET);
    GossipSettings base;
    try {
      base = GossipSettings.preset(preset);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(Setting.GOSSIP_PRESET.settingName(), e.getMessage());
    }
    if (enabled && (peer.port() + 1 == client.port() || peer.port() + 1 == metrics.port())) {
      throw new ConfigException(
          Setting.PEER_ADDR.settingName(),
          "port + 1 ("
              + (peer.port() + 1)
              + ") carries gossip push-pull and must differ from the client and metrics ports");
    }
    int tick = base.tickMillis();
    try {
      GossipSettings settings =
          new GossipSettings(
              tick,
              ticks(values, Setting.GOSSIP_PROBE_INTERVAL_MILLIS, tick, base.probeIntervalTicks()),
              ticks(values, Setting.GOSSIP_PROBE_TIMEOUT_MILLIS, tick, base.probeTimeoutTicks()),
              count(values, Setting.GOSSIP_INDIRECT_CHECKS, base.indirectChecks()),
              base.retransmitMultiplier(),
              count(values, Setting.GOSSIP_SUSPICION_MULTIPLIER, base.suspicionMultiplier()),
              count(
                  values,
                  Setting.GOSSIP_SUSPICION_MAX_TIMEOUT_MULTIPLIER,
                  base.suspicionMaxTimeoutMultiplier()),
              count(values, Setting.GOSSIP_AWARENESS_MAX, base.awarenessMax()),
              ticks(values, Setting.GOSSIP_INTERVAL_MILLIS, tick, base.gossipIntervalTicks()),
              count(values, Setting.GOSSIP_NODES, base.gossipNodes()),
              base.gossipToTheDeadTicks(),
              ticks(
                  values,
                  Setting.GOSSIP_PUSH_PULL_INTERVAL_MILLIS,
                  tick,
                  base.pushPullIntervalTicks()),
              base.broadcastQueueMax(),
              base.localHealthAwareness(),
              base.suspicionShrink(),
              base.buddySystem());
      return new GossipConfig(
          enabled, preset, settings, readableFile(values, Setting.GOSSIP_KEY_FILE));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(
          Setting.GOSSIP_PRESET.settingName(),
          "with the gossip-* overrides given: " + e.getMessage() + " (ticks of " + tick + " ms)");
    }
  }

  private static int ticks(Map<Setting, String> values, Setting setting, int tick, int preset) {
    return values.containsKey(setting)
        ? (int) Math.ceilDiv(integer(values, setting), (long) tick)
        : preset;
  }

  private static int count(Map<Setting, String> values, Setting setting, int preset) {
    return values.containsKey(setting) ? (int) integer(values, setting) : preset;
  }

  private static WatchLimits watchLimits(Map<Setting, String> values) {
    long dropOneIn = integer(values, Setting.DEBUG_WATCH_DROP_ONE_IN);
    if (dropOneIn != 0 && !bool(values, Setting.ALLOW_UNSAFE_DEBUG)) {
      throw new ConfigException(
          Setting.DEBUG_WATCH_DROP_ONE_IN.settingName(),
          "is unsafe (drops changefeed events) and refused unless allow-unsafe-debug is true");
    }
    return new WatchLimits(
        (int) integer(values, Setting.WATCHES_MAX),
        integer(values, Setting.WATCH_BUFFER_BYTES_MAX),
        (int) integer(values, Setting.WATCH_RESPONSE_EVENTS_MAX),
        integer(values, Setting.WATCH_PROGRESS_INTERVAL_MILLIS),
        dropOneIn);
  }

  /**
   * A debug switch that breaks safety: refused unless allow-unsafe-debug is also true, so that a
   * production configuration cannot turn it on by one stray line.
   */
  private static boolean unsafeDebug(Map<Setting, String> values, Setting setting) {
    boolean on = bool(values, setting);
    if (on && !bool(values, Setting.ALLOW_UNSAFE_DEBUG)) {
      throw new ConfigException(
          setting.settingName(),
          "is unsafe (breaks linearizability) and refused unless allow-unsafe-debug is true");
    }
    return on;
  }

  private static boolean bool(Map<Setting, String> values, Setting setting) {
    return switch (text(values, setting)) {
      case "true" -> true;
      case "false" -> false;
      default -> throw new ConfigException(setting.settingName(), "must be true or false");
    };
  }

  private static Limits limits(Map<Setting, String> values) {
    return new Limits(
        (int) integer(values, Setting.KEY_SIZE_BYTES_MAX),
        (int) integer(values, Setting.VALUE_SIZE_BYTES_MAX),
        (int) integer(values, Setting.REQUEST_SIZE_BYTES_MAX),
        (int) integer(values, Setting.TXN_OPS_MAX),
        (int) integer(values, Setting.SCAN_LIMIT_MAX),
        (int) integer(values, Setting.INFLIGHT_PROPOSALS_PER_PARTITION_MAX),
        (int) integer(values, Setting.PEER_FRAME_SIZE_BYTES_MAX),
        (int) integer(values, Setting.PEER_SEND_QUEUE_FRAMES_MAX),
        (int) integer(values, Setting.RESPONSE_SIZE_BYTES_MAX));
  }

  private static io.ringkv.storage.RaftLogEngine raftLogEngine(Map<Setting, String> values) {
    try {
      return io.ringkv.storage.RaftLogEngine.parse(text(values, Setting.RAFT_LOG_ENGINE));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(Setting.RAFT_LOG_ENGINE.settingName(), e.getMessage());
    }
  }

  private static io.ringkv.raft.Config.ReadOnlyMode readOnlyMode(Map<Setting, String> values) {
    String mode = text(values, Setting.RAFT_READ_MODE);
    return switch (mode) {
      case "lease" -> io.ringkv.raft.Config.ReadOnlyMode.LEASE_BASED;
      case "read-index" -> io.ringkv.raft.Config.ReadOnlyMode.SAFE;
      default ->
          throw new ConfigException(
              Setting.RAFT_READ_MODE.settingName(),
              "must be lease or read-index, got '" + mode + "'");
    };
  }

  private static String text(Map<Setting, String> values, Setting setting) {
    String value = values.getOrDefault(setting, setting.defaultValue());
    if (value == null || value.isBlank()) {
      throw new ConfigException(setting.settingName(), "must not be empty");
    }
    return value.trim();
  }

  private static long integer(Map<Setting, String> values, Setting setting) {
    String value = text(values, setting);
    long parsed;
    try {
      parsed = Long.parseLong(value.replace("_", ""));
    } catch (NumberFormatException e) {
      throw new ConfigException(setting.settingName(), "'" + value + "' is not an integer");
    }
    if (parsed < setting.minimum() || parsed > setting.maximum()) {
      throw new ConfigException(
          setting.settingName(),
          "must be between " + setting.minimum() + " and " + setting.maximum() + ", got " + parsed);
    }
    return parsed;
  }

  private static HostPort address(
      Map<Setting, String> values, Setting setting, String host, int defaultPort) {
    String value = values.get(setting);
    try {
      return value == null
          ? new HostPort(host, defaultPort)
          : HostPort.parse(value, host, defaultPort);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(setting.settingName(), e.getMessage());
    }
  }

  private static HostPort advertised(
      Map<Setting, String> values,
      Setting setting,
      HostPort bound,
      Member configuredSelf,
      boolean client) {
    HostPort result;
    if (values.containsKey(setting)) {
      result = address(values, setting, bound.host(), bound.port());
    } else if (configuredSelf != null) {
      result = client ? configuredSelf.clientAddress() : configuredSelf.peerAddress();
    } else {
      result = bound;
    }
    if (result.isWildcard()) {
      throw new ConfigException(
          setting.settingName(), "is " + result + ", a wildcard; name an address peers can reach");
    }
    return result;
  }

  private static void checkDistinct(HostPort client, HostPort peer, HostPort metrics) {
    if (client.equals(peer)) {
      throw new ConfigException(Setting.PEER_ADDR.settingName(), "equals client-addr " + client);
    }
    if (metrics.equals(client) || metrics.equals(peer)) {
      throw new ConfigException(
          Setting.METRICS_ADDR.settingName(), "equals the client or peer address " + metrics);
    }
  }

  private static List<Member> members(Map<Setting, String> values) {
    String value = values.get(Setting.MEMBERS);
    List<Member> members = new ArrayList<>();
    if (value == null || value.isBlank()) {
      return members;
    }
    Set<Long> ids = new HashSet<>();
    Set<HostPort> peerAddresses = new HashSet<>();
    for (String part : value.split(",")) {
      if (part.isBlank()) {
        continue;
      }
      Member member;
      try {
        member = Member.parse(part, Setting.CLIENT_PORT_DEFAULT, Setting.PEER_PORT_DEFAULT);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(Setting.MEMBERS.settingName(), e.getMessage());
      }
      if (!ids.add(member.nodeId())) {
        throw new ConfigException(
            Setting.MEMBERS.settingName(), "node id " + member.nodeId() + " is listed twice");
      }
      if (!peerAddresses.add(member.peerAddress())) {
        throw new ConfigException(
            Setting.MEMBERS.settingName(),
            "peer address " + member.peerAddress() + " is listed twice");
      }
      members.add(member);
    }
    return members;
  }
}
