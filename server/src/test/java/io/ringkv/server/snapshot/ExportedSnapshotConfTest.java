package io.ringkv.server.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ringkv.raft.ConfState;
import io.ringkv.raft.Message;
import io.ringkv.raft.Snapshot;
import io.ringkv.raft.SnapshotMetadata;
import io.ringkv.storage.AppliedState;
import io.ringkv.storage.SnapshotFiles;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A snapshot sent to a follower carries the configuration as of the exported index, not the one of
 * the older log snapshot record it was triggered by. A replica move enters a joint configuration
 * between the two: a learner that installed the older configuration with the newer data skipped the
 * change that entered it, and stopped at the change that leaves it ("configuration is not joint").
 */
class ExportedSnapshotConfTest {
  @Test
  void theExportedIndexsConfigurationTravelsWithTheSnapshot() {
    ConfState atRecord = ConfState.ofVoters(Set.of(1L, 2L, 3L));
    ConfState joint =
        new ConfState(Set.of(1L, 2L, 4L), Set.of(), Set.of(1L, 2L, 3L), Set.of(), true);
    Message recorded =
        Message.snapshot(
            4, 1, 7, new Snapshot(new SnapshotMetadata(100, 6, atRecord), new byte[0]));
    SnapshotFiles exported =
        new SnapshotFiles(Path.of("unused"), 5, new AppliedState(130, 7, joint), List.of());

    Message sent = SnapshotSender.withExportedState(5, recorded, exported);

    assertEquals(130, sent.snapshot().metadata().index());
    assertEquals(7, sent.snapshot().metadata().term());
    assertEquals(joint, sent.snapshot().metadata().confState());
  }

  @Test
  void aStoreWithoutARecordedConfigurationFallsBackToTheLogRecord() {
    ConfState atRecord = ConfState.ofVoters(Set.of(1L, 2L, 3L));
    Message recorded =
        Message.snapshot(
            4, 1, 7, new Snapshot(new SnapshotMetadata(100, 6, atRecord), new byte[0]));
    SnapshotFiles exported =
        new SnapshotFiles(
            Path.of("unused"), 5, new AppliedState(120, 7, ConfState.EMPTY), List.of());

    assertEquals(
        atRecord,
        SnapshotSender.withExportedState(5, recorded, exported).snapshot().metadata().confState());
  }
}
