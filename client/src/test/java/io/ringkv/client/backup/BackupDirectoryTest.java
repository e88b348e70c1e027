package io.ringkv.client.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.ringkv.proto.v1.BackupManifest;
import io.ringkv.proto.v1.BackupPartitionFile;
import io.ringkv.proto.v1.KeyValue;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves what a restore's verification refuses without any node: a file whose checksum and size
 * match the manifest but whose keys are out of order or whose pair count differs, a manifest that
 * does not list one file per partition, and a manifest that is not one; and that a well-formed
 * backup passes. Also the pace arithmetic of the backup's reader.
 */
class BackupDirectoryTest {
  @TempDir Path directory;

  @Test
  void aWellFormedBackupVerifies() throws Exception {
    write(manifest(file(0, List.of("a", "b"), 2), file(1, List.of(), 0)));
    assertThat(BackupDirectory.verify(directory).getPartitionCount()).isEqualTo(2);
  }

  @Test
  void keysOutOfOrderAreRefusedNamingTheFile() throws Exception {
    write(manifest(file(0, List.of("b", "a"), 2)));
    assertThatThrownBy(() -> BackupDirectory.verify(directory))
        .isInstanceOf(BackupException.class)
        .hasMessageContaining(directory.resolve("partition-00000.kvs").toString())
        .hasMessageContaining("out of order");
  }

  @Test
  void aPairCountThatDiffersFromTheManifestIsRefused() throws Exception {
    write(manifest(file(0, List.of("a", "b"), 3)));
    assertThatThrownBy(() -> BackupDirectory.verify(directory))
        .hasMessageContaining(directory.resolve("partition-00000.kvs").toString())
        .hasMessageContaining("holds 2 pairs, the manifest says 3");
  }

  @Test
  void aManifestWithoutOneFilePerPartitionIsRefused() throws Exception {
    BackupManifest manifest =
        manifest(file(0, List.of("a"), 1)).toBuilder().setPartitionCount(2).build();
    write(manifest);
    assertThatThrownBy(() -> BackupDirectory.verify(directory))
        .hasMessageContaining(directory.resolve(BackupDirectory.MANIFEST_NAME).toString())
        .hasMessageContaining("lists 1 partition files for a partition count of 2");
  }

  @Test
  void aManifestThatIsNotOneIsRefused() throws Exception {
    Files.writeString(directory.resolve(BackupDirectory.MANIFEST_NAME), "format: \"x\"");
    assertThatThrownBy(() -> BackupDirectory.verify(directory))
        .hasMessageContaining(directory.resolve(BackupDirectory.MANIFEST_NAME).toString())
        .hasMessageContaining("not a manifest");
  }

  @Test
  void thePaceWaitsUntilTheBytesTookTheirTime() {
    assertThat(BackupWriter.Pacer.waitNanos(1_000, 0, 1_000)).isEqualTo(1_000_000_000L);
    assertThat(BackupWriter.Pacer.waitNanos(1_000, 400_000_000L, 1_000)).isEqualTo(600_000_000L);
    assertThat(BackupWriter.Pacer.waitNanos(1_000, 2_000_000_000L, 1_000)).isZero();
  }

  private BackupPartitionFile file(int partition, List<String> keys, long countInManifest)
      throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (String key : keys) {
      KeyValue.newBuilder()
          .setKey(ByteString.copyFromUtf8(key))
          .setValue(ByteString.copyFromUtf8("value of " + key))
          .setVersion(1)
          .build()
          .writeDelimitedTo(bytes);
    }
    String name = BackupDirectory.fileName(partition);
    Files.write(directory.resolve(name), bytes.toByteArray());
    return BackupPartitionFile.newBuilder()
        .setPartition(partition)
        .setFileName(name)
        .setSizeBytes(bytes.size())
        .setSha256Hex(
            HexFormat.of().formatHex(BackupDirectory.sha256().digest(bytes.toByteArray())))
        .setKeyCount(countInManifest)
        .build();
  }

  private static BackupManifest manifest(BackupPartitionFile... files) {
    return BackupManifest.newBuilder()
        .setFormat(BackupDirectory.FORMAT)
        .setClusterId("test")
        .setPartitionCount(files.length)
        .addAllPartitions(List.of(files))
        .build();
  }

  private void write(BackupManifest manifest) throws Exception {
    BackupDirectory.writeManifest(directory, manifest);
  }
}
