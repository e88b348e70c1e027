package io.ringkv.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.ringkv.server.config.ConfigLoader;
import io.ringkv.server.config.Member;
import io.ringkv.server.config.NodeConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves, offline, that deploy/k8s is a valid and coherent three-node ringkv cluster: every
 * document parses strictly against the Kubernetes API types (an unknown or misspelled field fails,
 * shown by a manifest with one planted typo), and the pieces agree with each other and with the
 * node: the StatefulSet's pods are named by the headless Service, readiness asks the node's
 * /health, the disruption budget lets one node go at a time, each pod has its own volume under the
 * data directory, and each pod's real start-up script (run here with stand-ins for DNS and the
 * node) gives settings that the node's own parser accepts, with the member list naming the pods by
 * their stable DNS names.
 */
class KubernetesManifestsTest {
  static final Path REPO =
      Path.of(System.getProperty("ringkv.repo.root", "..")).toAbsolutePath().normalize();
  static final Path K8S = REPO.resolve("deploy/k8s");
  static final String APP_LABEL = "app.kubernetes.io/name";

  static List<HasMetadata> documents;

  @BeforeAll
  static void readManifests() throws IOException {
    documents = StrictManifests.readFolder(K8S);
  }

  @Test
  void everyManifestParsesStrictlyAndEachKindIsThere() {
    assertThat(documents)
        .extracting(HasMetadata::getKind)
        .contains("ConfigMap", "Service", "StatefulSet", "PodDisruptionBudget");
  }

  @Test
  void aMisspelledFieldIsRefusedWithItsPath() throws IOException {
    String statefulSet = Files.readString(K8S.resolve("statefulset.yaml"));
    String typo = statefulSet.replace("readinessProbe:", "readinesProbe:");
    assertThat(typo).isNotEqualTo(statefulSet);
    assertThatThrownBy(() -> StrictManifests.read("typo.yaml", typo))
        .hasMessageContaining("unknown fields")
        .hasMessageContaining("containers[0].readinesProbe");
    String wrongType = statefulSet.replace("replicas: 3", "replicas: three");
    assertThatThrownBy(() -> StrictManifests.read("type.yaml", wrongType))
        .hasMessageContaining("StatefulSet");
  }

  @Test
  void threeReplicasStartTogetherBehindTheHeadlessService() {
    StatefulSet set = statefulSet();
    assertThat(set.getSpec().getReplicas()).isEqualTo(3);
    assertThat(set.getSpec().getPodManagementPolicy()).isEqualTo("Parallel");
    Service headless = service(set.getSpec().getServiceName());
    assertThat(headless.getSpec().getClusterIP()).isEqualTo("None");
    assertThat(headless.getSpec().getPublishNotReadyAddresses()).isTrue();
    Map<String, String> podLabels = set.getSpec().getTemplate().getMetadata().getLabels();
    assertThat(podLabels).containsAllEntriesOf(set.getSpec().getSelector().getMatchLabels());
    for (HasMetadata document : documents) {
      if (document instanceof Service service) {
        assertThat(podLabels).containsAllEntriesOf(service.getSpec().getSelector());
        service
            .getSpec()
            .getPorts()
            .forEach(port ->
                assertThat(protocol(containerPort(port.getTargetPort().getStrVal()).getProtocol()))
                    .as("port %s of service %s", port.getName(), service.getMetadata().getName())
                    .isEqualTo(protocol(port.getProtocol())));
      }
    }
  }

  @Test
  void readinessAsksHealthOnTheMetricsPort() {
    Container container = container();
    var probe = container.getReadinessProbe().getHttpGet();
    assertThat(probe.getPath()).isEqualTo("/health");
    assertThat(containerPort(probe.getPort().getStrVal()).getContainerPort()).isEqualTo(7390);
  }

  @Test
  void disruptionsTakeAtMostOneNodeOfThePodsAtATime() {
    PodDisruptionBudget budget =
        documents.stream()
            .filter(PodDisruptionBudget.class::isInstance)
            .map(PodDisruptionBudget.class::cast)
            .findFirst()
            .orElseThrow();
    assertThat(budget.getSpec().getMaxUnavailable().getIntVal()).isEqualTo(1);
    assertThat(statefulSet().getSpec().getTemplate().getMetadata().getLabels())
        .containsAllEntriesOf(budget.getSpec().getSelector().getMatchLabels());
  }

  @Test
  void eachPodKeepsItsDataOnItsOwnVolume() {
    StatefulSet set = statefulSet();
    assertThat(set.getSpec().getVolumeClaimTemplates()).hasSize(1);
    String claim = set.getSpec().getVolumeClaimTemplates().get(0).getMetadata().getName();
    VolumeMount mount =
        container().getVolumeMounts().stream()
            .filter(m -> m.getName().equals(claim))
            .findFirst()
            .orElseThrow();
    NodeConfig node = podConfig(0, "10.0.0.1");
    assertThat(node.dataDir().startsWith(Path.of(mount.getMountPath())))
        .as("data-dir %s lies on the volume at %s", node.dataDir(), mount.getMountPath())
        .isTrue();
  }

  @Test
  void everyPodIsTheMemberNamedByItsStableDnsName() {
    StatefulSet set = statefulSet();
    int replicas = set.getSpec().getReplicas();
    String domain = set.getSpec().getServiceName();
    for (int ordinal = 0; ordinal < replicas; ordinal++) {
      String podIp = "10.0.0." + (ordinal + 1);
      NodeConfig node = podConfig(ordinal, podIp);
      String podName = set.getMetadata().getName() + "-" + ordinal;
      assertThat(node.nodeId()).isEqualTo(ordinal + 1);
      assertThat(node.clientAddress().host()).isEqualTo(podIp);
      assertThat(node.advertiseClientAddress().host()).isEqualTo(podName + "." + domain);
      assertThat(node.advertisePeerAddress().host()).isEqualTo(podName + "." + domain);
      assertThat(node.members()).hasSize(replicas);
      for (Member member : node.members()) {
        String memberPod = set.getMetadata().getName() + "-" + (member.nodeId() - 1);
        assertThat(member.peerAddress().host()).isEqualTo(memberPod + "." + domain);
      }
      assertThat(node.metricsAddress().port())
          .isEqualTo(containerPort("metrics").getContainerPort());
      assertThat(node.clientAddress().port()).isEqualTo(containerPort("client").getContainerPort());
      assertThat(node.peerAddress().port()).isEqualTo(containerPort("peer").getContainerPort());
      assertThat(node.peerAddress().port() + 1)
          .isEqualTo(containerPort("push-pull").getContainerPort());
    }
  }

  @TempDir Path scratch;

  /**
   * Runs the pod's start-up script as pod {@code ringkv-ORDINAL} would, with a getent that always
   * resolves and a ringkv-node that prints its flags, then parses those flags with the ConfigMap's
   * settings file the way the node does.
   */
  private NodeConfig podConfig(int ordinal, String podIp) {
    try {
      Path bin = Files.createDirectories(scratch.resolve("bin-" + ordinal));
      stub(bin.resolve("getent"), "exit 0\n");
      stub(bin.resolve("ringkv-node"), "printf '%s\\n' \"$@\"\n");
      Container container = container();
      assertThat(container.getCommand()).containsExactly("/bin/sh", "-c");
      Path script = scratch.resolve("start-" + ordinal + ".sh");
      Files.writeString(script, container.getArgs().get(0));
      ProcessBuilder builder = new ProcessBuilder("/bin/sh", script.toString());
      builder.environment().clear();
      builder.environment().put("PATH", bin + ":/usr/bin:/bin");
      builder.environment().put("HOSTNAME", statefulSet().getMetadata().getName() + "-" + ordinal);
      builder.environment().put("POD_IP", podIp);
      builder.redirectErrorStream(true);
      Process process = builder.start();
      assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("start-up script finished").isTrue();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(process.exitValue()).as(output).isZero();
      Path config = scratch.resolve("ringkv-" + ordinal + ".yaml");
      Files.writeString(config, configMap().getData().get("ringkv.yaml"));
      List<String> args = new ArrayList<>(List.of("--config", config.toString()));
      output.lines().forEach(args::add);
      return ConfigLoader.load(args.toArray(String[]::new));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static void stub(Path file, String body) throws IOException {
    Files.writeString(file, "#!/bin/sh\n" + body);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  private static StatefulSet statefulSet() {
    return only(StatefulSet.class);
  }

  private static ConfigMap configMap() {
    return only(ConfigMap.class);
  }

  private static <T extends HasMetadata> T only(Class<T> type) {
    List<T> found = documents.stream().filter(type::isInstance).map(type::cast).toList();
    assertThat(found).as(type.getSimpleName()).hasSize(1);
    return found.get(0);
  }

  private static Service service(String name) {
    return documents.stream()
        .filter(Service.class::isInstance)
        .map(Service.class::cast)
        .filter(s -> s.getMetadata().getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no Service " + name));
  }

  private static Container container() {
    List<Container> containers = statefulSet().getSpec().getTemplate().getSpec().getContainers();
    assertThat(containers).hasSize(1);
    return containers.get(0);
  }

  /** Kubernetes' default protocol is TCP. */
  private static String protocol(String given) {
    return given == null ? "TCP" : given;
  }

  private static ContainerPort containerPort(String name) {
    return container().getPorts().stream()
        .filter(p -> name.equals(p.getName()))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no container port " + name));
  }
}
