package io.ringkv.server.gossip;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the gossip key file: it parses one base64 key a line (blank and # lines skipped) and
 * refuses wrong lengths, bad base64, no keys and too many keys without echoing key material; a
 * reload installs a changed file, and a change that does not parse (or a file that vanished) keeps
 * the keys in use and is counted.
 */
class GossipKeyFileTest {
  private static final long SEED = 7L;
  private static final long RELOAD_INTERVAL_MILLIS = 1_000;

  private final SplittableRandom random = new SplittableRandom(SEED);

  @TempDir Path directory;

  private String key() {
    byte[] key = new byte[GossipKeyring.KEY_BYTES];
    random.nextBytes(key);
    return Base64.getEncoder().encodeToString(key);
  }

  @Test
  void parsesKeysInOrderAndRefusesBadFiles() {
    String first = key();
    String second = key();
    GossipKeyring keyring =
        GossipKeyring.parse("# rotation\n" + first + "\n\n  " + second + "  \n");
    assertThat(keyring.keys()).hasSize(2);
    assertThat(keyring.sealing().getEncoded()).isEqualTo(Base64.getDecoder().decode(first));
    assertThat(keyring.toString()).doesNotContain(first).doesNotContain(second);

    String shortKey = Base64.getEncoder().encodeToString(new byte[16]);
    assertThatThrownBy(() -> GossipKeyring.parse(first + "\n" + shortKey))
        .hasMessage("line 2 holds 16 bytes, a key has 32")
        .hasMessageNotContaining(shortKey);
    assertThatThrownBy(() -> GossipKeyring.parse("not base64!")).hasMessage("line 1 is not base64");
    assertThatThrownBy(() -> GossipKeyring.parse("# only a comment\n"))
        .hasMessageContaining("found 0");
    String tooMany = (first + "\n").repeat(GossipKeyring.KEYS_MAX + 1);
    assertThatThrownBy(() -> GossipKeyring.parse(tooMany)).hasMessageContaining("found 9");
  }

  @Test
  void aFileThatDoesNotParseAtStartIsRefusedNamingIt() throws IOException {
    Path file = directory.resolve("gossip.key");
    Files.writeString(file, "garbage\n");
    assertThatThrownBy(() -> GossipKeyFile.load(file, RELOAD_INTERVAL_MILLIS))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("line 1");
  }

  @Test
  void aReloadInstallsAGoodChangeAndKeepsTheKeysOnABadOne() throws IOException {
    Path file = directory.resolve("gossip.key");
    String oldKey = key();
    Files.writeString(file, oldKey + "\n");
    try (GossipKeyFile keyFile = GossipKeyFile.load(file, RELOAD_INTERVAL_MILLIS)) {
      GossipKeyring before = keyFile.keyring();
      assertThat(keyFile.reloadIfChanged()).as("unchanged").isFalse();

      Files.writeString(file, oldKey + "\nnot-a-key\n");
      assertThat(keyFile.reloadIfChanged()).isFalse();
      assertThat(keyFile.keyring()).isSameAs(before);
      assertThat(keyFile.reloadFailures()).isEqualTo(1);
      assertThat(keyFile.reloadIfChanged()).as("the same broken change, seen again").isFalse();
      assertThat(keyFile.reloadFailures()).as("counted once").isEqualTo(1);

      Files.delete(file);
      assertThat(keyFile.reloadIfChanged()).isFalse();
      assertThat(keyFile.keyring()).isSameAs(before);
      assertThat(keyFile.reloadFailures()).isEqualTo(2);

      String newKey = key();
      Files.writeString(file, newKey + "\n" + oldKey + "\n");
      assertThat(keyFile.reloadIfChanged()).isTrue();
      assertThat(keyFile.reloads()).isEqualTo(1);
      assertThat(keyFile.keyring().keys()).hasSize(2);
      assertThat(keyFile.keyring().sealing().getEncoded())
          .isEqualTo(Base64.getDecoder().decode(newKey));
    }
  }
}
