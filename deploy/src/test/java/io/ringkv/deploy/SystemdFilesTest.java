package io.ringkv.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ringkv.server.config.ConfigException;
import io.ringkv.server.config.ConfigLoader;
import io.ringkv.server.config.NodeConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that the files installed beside ringkv.service agree with each other and with the node:
 * the example settings file is accepted by the node's own parser (a misspelled key is refused, as
 * shown with a planted typo), and the unit, the environment file, the launcher, the installer and
 * the container image name the same paths. {@code systemd-analyze verify} of the unit itself runs
 * in deploy/test/systemd-verify.sh (it needs the systemd package).
 */
class SystemdFilesTest {
  static final Path REPO = KubernetesManifestsTest.REPO;
  static final Path SYSTEMD = REPO.resolve("deploy/systemd");

  @TempDir Path scratch;

  @Test
  void theExampleSettingsFileIsAThreeNodeClusterTheNodeAccepts() {
    NodeConfig node =
        ConfigLoader.load(new String[] {"--config", SYSTEMD.resolve("ringkv.yaml").toString()});
    assertThat(node.members()).hasSize(3);
    assertThat(node.dataDir()).isEqualTo(Path.of("/var/lib/ringkv/data"));
  }

  @Test
  void aMisspelledSettingInTheFileIsRefused() throws IOException {
    Path typo = scratch.resolve("ringkv.yaml");
    Files.writeString(
        typo,
        Files.readString(SYSTEMD.resolve("ringkv.yaml")).replace("partitions:", "partitons:"));
    assertThatThrownBy(() -> ConfigLoader.load(new String[] {"--config", typo.toString()}))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("partitons");
  }

  /**
   * The launcher with no JAVA_HOME, on a machine whose only Java 21 is a runtime without javac (as
   * Debian's openjdk-21-jre-headless, the image's): it must find it and run the node with the
   * settings file, the extra flags and the JVM options of the environment file.
   */
  @Test
  void theLauncherRunsAJavaRuntimeWithTheEnvironmentFilesSettings() throws Exception {
    Path runtime = Files.createDirectories(scratch.resolve("jvm/jre-21/bin"));
    Files.writeString(runtime.resolveSibling("release"), "JAVA_VERSION=\"21.0.9\"\n");
    Path java = runtime.resolve("java");
    Files.writeString(java, "#!/bin/sh\nprintf '%s\\n' \"$@\"\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    ProcessBuilder builder =
        new ProcessBuilder("/bin/sh", REPO.resolve("deploy/ringkv-node").toString());
    builder.environment().clear();
    builder.environment().put("PATH", "/usr/bin:/bin");
    builder.environment().put("RINGKV_JDK_DIRS", scratch.resolve("jvm/jre-21").toString());
    builder.environment().put("RINGKV_OPTS", "--node-id 2 --host 192.0.2.12");
    builder.environment().put("RINGKV_JAVA_OPTS", "-Xmx1g -Xms1g");
    builder.redirectErrorStream(true);
    Process process = builder.start();
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.exitValue()).as(output).isZero();
    assertThat(output.lines().toList())
        .containsSubsequence("-Xmx1g", "-Xms1g", "-cp", REPO.resolve("lib") + "/*")
        .containsSubsequence(
            "io.ringkv.server.NodeMain",
            "--config",
            "/etc/ringkv/ringkv.yaml",
            "--node-id",
            "2",
            "--host",
            "192.0.2.12")
        .contains("--enable-native-access=ALL-UNNAMED");
  }

  @Test
  void unitEnvironmentLauncherInstallerAndImageNameTheSamePaths() throws IOException {
    List<String> unit = Files.readAllLines(SYSTEMD.resolve("ringkv.service"));
    assertThat(unit)
        .contains(
            "ExecStart=/opt/ringkv/bin/ringkv-node",
            "EnvironmentFile=-/etc/default/ringkv",
            "StateDirectory=ringkv",
            "User=ringkv");
    assertThat(unit).anyMatch(line -> line.startsWith("LimitNOFILE="));
    assertThat(Files.readAllLines(SYSTEMD.resolve("ringkv.default")))
        .contains("RINGKV_CONFIG=/etc/ringkv/ringkv.yaml");
    assertThat(Files.readString(REPO.resolve("deploy/ringkv-node")))
        .contains("${RINGKV_CONFIG-/etc/ringkv/ringkv.yaml}");
    assertThat(Files.readString(REPO.resolve("deploy/install.sh")))
        .contains("prefix=/opt/ringkv", "\"$root/etc/default/ringkv\"")
        .contains("\"$root/etc/ringkv/ringkv.yaml\"", "\"$root$prefix/bin/ringkv-node\"");
    assertThat(Files.readString(REPO.resolve("deploy/container/Dockerfile")))
        .contains("ENTRYPOINT [\"/opt/ringkv/bin/ringkv-node\"]")
        .contains("RINGKV_CONFIG=/etc/ringkv/ringkv.yaml");
  }
}
