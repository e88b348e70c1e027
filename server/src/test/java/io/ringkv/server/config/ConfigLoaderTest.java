package io.ringkv.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves how a node's settings are put together: defaults give a working single-node cluster, a
 * YAML file sets values and flags override it, and each kind of invalid setting stops start-up with
 * a {@link ConfigException} that names the setting at fault.
 */
class ConfigLoaderTest {
  @TempDir Path directory;

  @Test
  void dataDirAloneGivesASingleNodeClusterOnLoopback() {
    NodeConfig config = ConfigLoader.load(new String[] {"--data-dir", "/tmp/x"});
    assertThat(config.dataDir()).isEqualTo(Path.of("/tmp/x"));
    assertThat(config.nodeId()).isEqualTo(1);
    assertThat(config.clusterId()).isEqualTo("ringkv");
    assertThat(config.clientAddress()).isEqualTo(new HostPort("127.0.0.1", 7379));
    assertThat(config.peerAddress()).isEqualTo(new HostPort("127.0.0.1", 7380));
    assertThat(config.metricsAddress()).isEqualTo(new HostPort("127.0.0.1", 7390));
    assertThat(config.members())
        .containsExactly(
            new Member(1, new HostPort("127.0.0.1", 7379), new HostPort("127.0.0.1", 7380)));
    assertThat(config.replicationFactor()).isEqualTo(1);
    assertThat(config.partitionCount()).isEqualTo(64);
    assertThat(config.limits()).isEqualTo(Limits.DEFAULTS);
    assertThat(config.peers()).isEmpty();
  }

  @Test
  void hostFlagMovesAllAddressesKeepingDefaultPorts() {
    NodeConfig config = ConfigLoader.load(new String[] {"--data-dir=/d", "--host", "127.0.0.11"});
    assertThat(config.clientAddress()).isEqualTo(new HostPort("127.0.0.11", 7379));
    assertThat(config.peerAddress()).isEqualTo(new HostPort("127.0.0.11", 7380));
    assertThat(config.metricsAddress()).isEqualTo(new HostPort("127.0.0.11", 7390));
  }

  @Test
  void yamlFileSetsValuesAndFlagsOverrideThem() throws IOException {
    Path file =
        write(
            """
            cluster-id: prod-1
            node-id: 2
            data-dir: /var/lib/ringkv
            members:
              - 1@127.0.0.11:7379:7380
              - 2@127.0.0.12:7379:7380
              - 3@127.0.0.13
            client-addr: 127.0.0.12:7379
            peer-addr: 127.0.0.12:7380
            metrics-addr: 127.0.0.12:7390
            partitions: 256
            key-size-bytes-max: 1024
            """);
    NodeConfig config =
        ConfigLoader.load(
            new String[] {"--config", file.toString(), "--partitions", "128", "--txn-ops-max=7"});
    assertThat(config.clusterId()).isEqualTo("prod-1");
    assertThat(config.nodeId()).isEqualTo(2);
    assertThat(config.partitionCount()).isEqualTo(128);
    assertThat(config.replicationFactor()).isEqualTo(3);
    assertThat(config.limits().keySizeBytesMax()).isEqualTo(1024);
    assertThat(config.limits().txnOpsMax()).isEqualTo(7);
    assertThat(config.members()).extracting(Member::nodeId).containsExactly(1L, 2L, 3L);
    assertThat(config.members().get(2).peerAddress()).isEqualTo(new HostPort("127.0.0.13", 7380));
    assertThat(config.peers()).extracting(Member::nodeId).containsExactly(1L, 3L);
    assertThat(config.advertisePeerAddress()).isEqualTo(new HostPort("127.0.0.12", 7380));
  }

  @Test
  void membersFlagTakesACommaSeparatedList() {
    NodeConfig config =
        ConfigLoader.load(
            new String[] {
              "--data-dir",
              "/d",
              "--node-id",
              "1",
              "--host",
              "127.0.0.11",
              "--members",
              "1@127.0.0.11:7379:7380,2@127.0.0.12:7379:7380",
              "--replication-factor",
              "2"
            });
    assertThat(config.members()).hasSize(2);
    assertThat(config.replicationFactor()).isEqualTo(2);
  }

  @Test
  void unknownSettingIsNamed() {
    expectError("parittions", () -> load("--data-dir", "/d", "--parittions", "8"));
  }

  @Test
  void unknownYamlKeyIsNamed() throws IOException {
    Path file = write("data-dir: /d\nreplication-factr: 3\n");
    expectError("replication-factr", () -> load("--config", file.toString()));
  }

  @Test
  void missingFlagValueIsNamed() {
    expectError("node-id", () -> load("--data-dir", "/d", "--node-id"));
  }

  @Test
  void raftReadModeDefaultsToLeaseAndIsValidated() {
    assertThat(load("--data-dir", "/d").raftReadOnlyMode())
        .isEqualTo(io.ringkv.raft.Config.ReadOnlyMode.LEASE_BASED);
    assertThat(load("--data-dir", "/d", "--raft-read-mode", "read-index").raftReadOnlyMode())
        .isEqualTo(io.ringkv.raft.Config.ReadOnlyMode.SAFE);
    expectError("raft-read-mode", () -> load("--data-dir", "/d", "--raft-read-mode", "safe"));
  }

  @Test
  void raftLogEngineIsParsedAndValidated() {
    assertThat(load("--data-dir", "/d").raftLogEngine())
        .isEqualTo(io.ringkv.storage.RaftLogEngine.parse(Setting.RAFT_LOG_ENGINE.defaultValue()));
    assertThat(load("--data-dir", "/d", "--raft-log-engine", "segmented").raftLogEngine())
        .isEqualTo(io.ringkv.storage.RaftLogEngine.SEGMENTED);
    assertThat(load("--data-dir", "/d", "--raft-log-engine", "rocksdb").raftLogEngine())
        .isEqualTo(io.ringkv.storage.RaftLogEngine.ROCKSDB);
    expectError("raft-log-engine", () -> load("--data-dir", "/d", "--raft-log-engine", "wal"));
    assertThat(load("--data-dir", "/d").raftLogEngineSet()).as("only a default").isFalse();
    assertThat(load("--data-dir", "/d", "--raft-log-engine", "rocksdb").raftLogEngineSet())
        .isTrue();
  }

  @Test
  void missingDataDirIsNamed() {
    expectError("data-dir", () -> load("--node-id", "1"));
  }

  @Test
  void nonIntegerIsNamed() {
    expectError("partitions", () -> load("--data-dir", "/d", "--partitions", "many"));
  }

  @Test
  void integerOutOfRangeIsNamed() {
    expectError("node-id", () -> load("--data-dir", "/d", "--node-id", "0"));
    expectError("txn-ops-max", () -> load("--data-dir", "/d", "--txn-ops-max", "-5"));
  }

  @Test
  void snapshotSizeLimitDefaultsTo8GibAndIsValidated() {
    assertThat(load("--data-dir", "/d").snapshotSizeBytesMax()).isEqualTo(8L << 30);
    assertThat(
            load("--data-dir", "/d", "--snapshot-size-bytes-max", "64_000_000_000")
                .snapshotSizeBytesMax())
        .isEqualTo(64_000_000_000L);
    expectError(
        "snapshot-size-bytes-max",
        () -> load("--data-dir", "/d", "--snapshot-size-bytes-max", "100"));
  }

  @Test
  void partitionCountNotAPowerOfTwoIsNamed() {
    expectError("partitions", () -> load("--data-dir", "/d", "--partitions", "100"));
  }

  @Test
  void badAddressIsNamed() {
    expectError("client-addr", () -> load("--data-dir", "/d", "--client-addr", "127.0.0.1:99999"));
    expectError("peer-addr", () -> load("--data-dir", "/d", "--peer-addr", "127.0.0.1:http"));
    expectError("metrics-addr", () -> load("--data-dir", "/d", "--metrics-addr", "::1:80"));
  }

  @Test
  void clashingAddressesAreNamed() {
    expectError("peer-addr", () -> load("--data-dir", "/d", "--peer-addr", ":7379"));
  }

  @Test
  void wildcardAddressMustNotBeAdvertised() {
    expectError("advertise-client-addr", () -> load("--data-dir", "/d", "--host", "0.0.0.0"));
    expectError(
        "advertise-peer-addr",
        () ->
            load(
                "--data-dir",
                "/d",
                "--host",
                "0.0.0.0",
                "--advertise-client-addr",
                "10.0.0.5:7379"));
    NodeConfig config =
        load(
            "--data-dir",
            "/d",
            "--host",
            "0.0.0.0",
            "--advertise-peer-addr",
            "10.0.0.5:7380",
            "--advertise-client-addr",
            "10.0.0.5:7379");
    assertThat(config.advertisePeerAddress()).isEqualTo(new HostPort("10.0.0.5", 7380));
  }

  @Test
  void malformedOrInconsistentMembersAreNamed() {
    expectError("members", () -> load("--data-dir", "/d", "--members", "one@127.0.0.1"));
    expectError("members", () -> load("--data-dir", "/d", "--members", "1@127.0.0.1:7379:x"));
    expectError("members", () -> load("--data-dir", "/d", "--members", "2@127.0.0.2,3@127.0.0.3"));
    expectError("members", () -> load("--data-dir", "/d", "--members", "1@127.0.0.1,1@127.0.0.2"));
    // This node's entry disagrees with the address it is told to advertise.
    expectError(
        "members",
        () ->
            load(
                "--data-dir",
                "/d",
                "--members",
                "1@127.0.0.1:7379:9999",
                "--advertise-peer-addr",
                "127.0.0.1:7380"));
  }

  @Test
  void replicationFactorAboveMemberCountIsNamed() {
    expectError("replication-factor", () -> load("--data-dir", "/d", "--replication-factor", "3"));
  }

  @Test
  void inconsistentLimitsAreNamed() {
    expectError(
        "request-size-bytes-max",
        () -> load("--data-dir", "/d", "--value-size-bytes-max", "8000000"));
    expectError(
        "peer-frame-size-bytes-max",
        () -> load("--data-dir", "/d", "--peer-frame-size-bytes-max", "4194304"));
  }

  @Test
  void badClusterIdIsNamed() {
    expectError("cluster-id", () -> load("--data-dir", "/d", "--cluster-id", "has space"));
  }

  @Test
  void unreadableOrMalformedFileIsNamed() throws IOException {
    expectError("config", () -> load("--config", directory.resolve("absent.yaml").toString()));
    Path notAMap = write("- just\n- a list\n");
    expectError("config", () -> load("--config", notAMap.toString()));
    Path broken = write("data-dir: [unclosed\n");
    expectError("config", () -> load("--config", broken.toString()));
    Path nested = write("data-dir:\n  nested: map\n");
    expectError("data-dir", () -> load("--config", nested.toString()));
  }

  @Test
  void strayArgumentIsRejected() {
    assertThatThrownBy(() -> load("--data-dir", "/d", "extra"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("extra");
  }

  @Test
  void watchSettingsHaveDefaultsAndTheDropSwitchNeedsItsPermission() {
    assertThat(load("--data-dir", "/d").watch()).isEqualTo(WatchLimits.DEFAULTS);
    assertThat(load("--data-dir", "/d", "--watches-max", "7").watch().watchesMax()).isEqualTo(7);
    expectError("watches-max", () -> load("--data-dir", "/d", "--watches-max", "0"));
    expectError(
        "debug-watch-drop-one-in",
        () -> load("--data-dir", "/d", "--debug-watch-drop-one-in", "1000"));
    assertThat(
            load(
                    "--data-dir",
                    "/d",
                    "--debug-watch-drop-one-in",
                    "1000",
                    "--allow-unsafe-debug",
                    "true")
                .watch()
                .debugWatchDropOneIn())
        .isEqualTo(1000);
  }

  @Test
  void theUnsafeStaleReadSwitchIsOffByDefaultAndNeedsItsPermission() {
    assertThat(load("--data-dir", "/d").debugUnsafeStaleReads()).isFalse();
    expectError(
        "debug-unsafe-stale-reads",
        () -> load("--data-dir", "/d", "--debug-unsafe-stale-reads", "true"));
    expectError(
        "debug-unsafe-stale-reads",
        () -> load("--data-dir", "/d", "--debug-unsafe-stale-reads", "yes"));
    assertThat(
            load(
                    "--data-dir",
                    "/d",
                    "--debug-unsafe-stale-reads",
                    "true",
                    "--allow-unsafe-debug",
                    "true")
                .debugUnsafeStaleReads())
        .isTrue();
  }

  @Test
  void theUnsyncedWritesSwitchIsOffByDefaultAndNeedsItsPermission() {
    assertThat(load("--data-dir", "/d").debugUnsyncedWrites()).isFalse();
    expectError(
        "debug-unsynced-writes", () -> load("--data-dir", "/d", "--debug-unsynced-writes", "true"));
    assertThat(
            load(
                    "--data-dir",
                    "/d",
                    "--debug-unsynced-writes",
                    "true",
                    "--allow-unsafe-debug",
                    "true")
                .debugUnsyncedWrites())
        .isTrue();
  }

  @Test
  void changefeedRetentionSettingsHaveDefaultsAndBounds() {
    NodeConfig defaults = load("--data-dir", "/d");
    assertThat(defaults.changefeedRetentionCheckIntervalMillis()).isEqualTo(10_000);
    assertThat(defaults.changefeedRetentionAgeMillis()).isEqualTo(24L * 3_600_000);
    assertThat(
            load("--data-dir", "/d", "--changefeed-retention-check-interval-millis", "250")
                .changefeedRetentionCheckIntervalMillis())
        .isEqualTo(250);
    expectError(
        "changefeed-retention-check-interval-millis",
        () -> load("--data-dir", "/d", "--changefeed-retention-check-interval-millis", "0"));
    expectError(
        "changefeed-retention-age-millis",
        () -> load("--data-dir", "/d", "--changefeed-retention-age-millis", "-1"));
  }

  @Test
  void gossipStartsFromThePresetAndSingleFieldsOverrideIt() {
    NodeConfig defaults = load("--data-dir", "/d");
    assertThat(defaults.gossip()).isEqualTo(GossipConfig.DEFAULTS);
    assertThat(defaults.gossip().settings()).isEqualTo(io.ringkv.gossip.GossipSettings.lan());
    assertThat(defaults.slowNode()).isEqualTo(SlowNodeSettings.DEFAULTS);

    NodeConfig tuned =
        load(
            "--data-dir",
            "/d",
            "--gossip-preset",
            "local",
            "--gossip-probe-interval-millis",
            "520",
            "--gossip-indirect-checks",
            "5");
    assertThat(tuned.gossip().preset()).isEqualTo("local");
    // 520 ms in 50 ms ticks, rounded up; untouched fields keep the local preset's values.
    assertThat(tuned.gossip().settings().probeIntervalTicks()).isEqualTo(11);
    assertThat(tuned.gossip().settings().indirectChecks()).isEqualTo(5);
    assertThat(tuned.gossip().settings().probeTimeoutTicks())
        .isEqualTo(io.ringkv.gossip.GossipSettings.local().probeTimeoutTicks());
    assertThat(load("--data-dir", "/d", "--gossip-enabled", "false").gossip().enabled()).isFalse();
  }

  @Test
  void badGossipSettingsAreNamed() {
    expectError("gossip-preset", () -> load("--data-dir", "/d", "--gossip-preset", "moon"));
    // A probe timeout as long as the probe interval is refused as a combination.
    expectError(
        "gossip-preset", () -> load("--data-dir", "/d", "--gossip-probe-timeout-millis", "1000"));
    expectError("gossip-nodes", () -> load("--data-dir", "/d", "--gossip-nodes", "0"));
    // Push-pull listens on the peer port + 1, so that port must be free of the node's others.
    expectError(
        "peer-addr",
        () -> load("--data-dir", "/d", "--peer-addr", ":7000", "--client-addr", ":7001"));
  }

  @Test
  void usageListsEverySetting() {
    String usage = Setting.usage();
    for (Setting setting : Setting.values()) {
      assertThat(usage).contains("--" + setting.settingName());
    }
    assertThat(List.of(Setting.values()))
        .extracting(Setting::settingName)
        .contains(
            "key-size-bytes-max",
            "value-size-bytes-max",
            "request-size-bytes-max",
            "txn-ops-max",
            "scan-limit-max",
            "inflight-proposals-per-partition-max",
            "peer-frame-size-bytes-max");
  }

  private static NodeConfig load(String... args) {
    return ConfigLoader.load(args);
  }

  private static void expectError(String settingName, ThrowingCallable call) {
    assertThatThrownBy(call)
        .isInstanceOfSatisfying(
            ConfigException.class, e -> assertThat(e.settingName()).isEqualTo(settingName))
        .hasMessageContaining("'" + settingName + "'");
  }

  private Path write(String yaml) throws IOException {
    Path file = Files.createTempFile(directory, "node", ".yaml");
    Files.writeString(file, yaml);
    return file;
  }
}
