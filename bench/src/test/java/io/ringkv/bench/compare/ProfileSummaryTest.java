package io.ringkv.bench.compare;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that the profile summary reads async-profiler's collapsed stacks per workload and node,
 * sums samples over the nodes, folds pool thread names, ranks self frames by their leaf and counts
 * a recursive ringkv frame once per stack, and that main writes the summary file.
 */
class ProfileSummaryTest {
  @TempDir Path dir;

  private void write(String name, String... lines) throws Exception {
    Files.createDirectories(dir.resolve("profile"));
    Files.write(dir.resolve("profile").resolve(name), java.util.List.of(lines));
  }

  @Test
  void sumsNodesFoldsThreadsAndRanksFrames() throws Exception {
    write(
        "put-64-node-1.collapsed",
        "[grpc-default-executor-3 tid=101];java/lang/Thread.run;io/ringkv/server/KvService.put;io/ringkv/server/KvService.put;libc.so.6 write 30",
        "[ringkv-driver-0 tid=102];io/ringkv/raft/RawNode.step;fsync_[k] 50");
    write(
        "put-64-node-2.collapsed",
        "[grpc-default-executor-17 tid=201];java/lang/Thread.run;io/ringkv/server/KvService.put;libc.so.6 write 20");
    write("ycsb-c-node-1.collapsed", "[ringkv-driver-0 tid=9];io/ringkv/raft/RawNode.step 7");
    write("jcmd.log", "not a profile");

    Map<String, ProfileSummary.Profile> profiles = ProfileSummary.read(dir.resolve("profile"));

    assertThat(profiles).containsOnlyKeys("put-64", "ycsb-c");
    ProfileSummary.Profile put = profiles.get("put-64");
    assertThat(put.total).isEqualTo(100);
    assertThat(put.samplesByNode).containsEntry("node-1", 80L).containsEntry("node-2", 20L);
    assertThat(put.byThread)
        .containsEntry("grpc-default-executor-N", 50L)
        .containsEntry("ringkv-driver-N", 50L)
        .hasSize(2);
    assertThat(put.bySelfFrame)
        .containsEntry("libc.so.6 write", 50L)
        .containsEntry("fsync_[k]", 50L);
    // The recursive KvService.put frame counts once for its 30 samples.
    assertThat(put.byRingkvFrame)
        .containsEntry("io/ringkv/server/KvService.put", 50L)
        .containsEntry("io/ringkv/raft/RawNode.step", 50L)
        .doesNotContainKey("java/lang/Thread.run");

    String text = ProfileSummary.render(profiles);
    assertThat(text).contains("== put-64: 100 samples (node-1 80, node-2 20)");
    assertThat(text).contains(" 50.0 %  grpc-default-executor-N");
    assertThat(text.indexOf("== put-64")).isLessThan(text.indexOf("== ycsb-c"));

    ProfileSummary.main(new String[] {dir.toString()});
    assertThat(Files.readString(dir.resolve("profile-summary.txt"))).isEqualTo(text);
  }

  @Test
  void foldsNumberingButNotNames() {
    assertThat(ProfileSummary.foldDigits("grpc-default-worker-ELG-3-12"))
        .isEqualTo("grpc-default-worker-ELG-N-N");
    assertThat(ProfileSummary.foldDigits("GC Thread#1")).isEqualTo("GC Thread#N");
    assertThat(ProfileSummary.foldDigits("C2 CompilerThre")).isEqualTo("C2 CompilerThre");
  }

  @Test
  void saysSoWhenThereIsNoProfile() throws Exception {
    ProfileSummary.main(new String[] {dir.toString()});
    assertThat(Files.readString(dir.resolve("profile-summary.txt")))
        .contains("(no profiles found)");
  }
}
