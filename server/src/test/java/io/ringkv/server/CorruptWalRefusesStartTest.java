package io.ringkv.server;

import static io.ringkv.server.SingleNodeKvTest.freePort;
import static io.ringkv.server.SingleNodeKvTest.put;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.server.config.ConfigLoader;
import io.ringkv.storage.CorruptStoreException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that a node whose write-ahead log was damaged in the middle refuses to start rather than
 * forget fsynced Raft state: a real node on 127.0.0.190 acknowledges writes and stops; 4 KiB of
 * garbage go into the middle of its newest WAL; then the same node started in-process fails with
 * {@link CorruptStoreException}, and started as a real process ({@link NodeMain}) exits with 1 and
 * logs the log file and the offset. Before ringkv chose the recovery mode, both started and served.
 */
class CorruptWalRefusesStartTest {
  private static final String HOST = "127.0.0.190";
  private static final int WRITES = 300;
  private static final int VALUE_SIZE_BYTES = 1024;
  private static final long PROCESS_WAIT_SECONDS_MAX = 120;

  @TempDir Path dataDir;

  @Test
  void damagedWalRefusesTheStartNamingFileAndOffset() throws Exception {
    List<String> flags = flags();
    RingkvNode node = RingkvNode.start(ConfigLoader.load(flags.toArray(String[]::new)));
    ManagedChannel channel =
        NettyChannelBuilder.forAddress(node.clientAddress()).usePlaintext().build();
    try {
      KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channel);
      String value = "v".repeat(VALUE_SIZE_BYTES);
      for (int i = 0; i < WRITES; i++) {
        kv.withDeadlineAfter(20, TimeUnit.SECONDS).put(put("key-" + i, value));
      }
    } finally {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
      node.close();
    }
    Path wal = newestWal(dataDir.resolve("store"));
    byte[] garbage = new byte[4096];
    new Random(190).nextBytes(garbage);
    try (RandomAccessFile raw = new RandomAccessFile(wal.toFile(), "rw")) {
      raw.seek(raw.length() / 2);
      raw.write(garbage);
    }

    assertThatThrownBy(() -> RingkvNode.start(ConfigLoader.load(flags.toArray(String[]::new))))
        .isInstanceOf(CorruptStoreException.class)
        .hasMessageContaining(wal.toString())
        .hasMessageContaining("at offset");

    Path output = dataDir.resolve("node-main.out");
    Process process = startNodeMain(flags, output);
    boolean exited = process.waitFor(PROCESS_WAIT_SECONDS_MAX, TimeUnit.SECONDS);
    if (!exited) {
      process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }
    String logged = Files.readString(output, StandardCharsets.UTF_8);
    assertThat(exited).as("node process exited; output:%n%s", logged).isTrue();
    assertThat(process.exitValue()).as("exit code; output:%n%s", logged).isEqualTo(1);
    assertThat(logged)
        .contains("failed to start", "CorruptStoreException", wal.toString(), "at offset")
        .contains("would silently lose durable Raft state");
  }

  private List<String> flags() throws Exception {
    return List.of(
        "--data-dir",
        dataDir.toString(),
        "--host",
        HOST,
        "--client-addr",
        ":" + freePort(HOST),
        "--peer-addr",
        ":" + freePort(HOST),
        "--metrics-addr",
        ":" + freePort(HOST),
        "--partitions",
        "8",
        "--raft-tick-millis",
        "20");
  }

  private static Process startNodeMain(List<String> flags, Path output) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("--enable-native-access=ALL-UNNAMED");
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(NodeMain.class.getName());
    command.addAll(flags);
    return new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(output.toFile())
        .start();
  }

  private static Path newestWal(Path store) throws Exception {
    try (Stream<Path> files = Files.list(store)) {
      return files
          .filter(file -> file.getFileName().toString().endsWith(".log"))
          .max(Comparator.comparing(Path::getFileName))
          .orElseThrow();
    }
  }
}
