package io.ringkv.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.ringkv.proto.v1.Permission;
import io.ringkv.storage.ScanRange;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves the grant checks a user's calls go through: a key is readable or writable by prefix, and a
 * range is readable only when the user's readable prefixes cover all of it, so a scan or watch that
 * crosses into a prefix the user may not read is refused (also across adjacent prefixes that
 * together cover a range, and never for a range with a gap).
 */
class PrincipalTest {
  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static Permission permission(String prefix, boolean write) {
    return Permission.newBuilder()
        .setPrefix(ByteString.copyFromUtf8(prefix))
        .setAccess(write ? Permission.Access.READWRITE : Permission.Access.READ)
        .build();
  }

  private final Principal user =
      Principal.user(
          "alice",
          List.of(permission("app/", true), permission("pub/", false), permission("puc", false)),
          false);

  @Test
  void keysByPrefixAndAccess() {
    assertThat(user.canRead(bytes("app/x"))).isTrue();
    assertThat(user.canWrite(bytes("app/x"))).isTrue();
    assertThat(user.canRead(bytes("pub/x"))).isTrue();
    assertThat(user.canWrite(bytes("pub/x"))).as("read-only prefix").isFalse();
    assertThat(user.canRead(bytes("app"))).as("shorter than the prefix").isFalse();
    assertThat(user.canRead(bytes("secret/x"))).isFalse();
    assertThat(user.canWrite(bytes("secret/x"))).isFalse();
  }

  @Test
  void rangeMustBeCoveredWhole() {
    assertThat(user.canRead(ScanRange.prefix(bytes("app/")))).isTrue();
    assertThat(user.canRead(ScanRange.prefix(bytes("app/sub/")))).isTrue();
    assertThat(user.canRead(ScanRange.between(bytes("app/a"), bytes("app/b")))).isTrue();
    // Crosses from app/ into what follows it.
    assertThat(user.canRead(ScanRange.between(bytes("app/a"), bytes("b")))).isFalse();
    assertThat(user.canRead(ScanRange.between(bytes("app/a"), null))).isFalse();
    assertThat(user.canRead(ScanRange.prefix(new byte[0]))).as("every key").isFalse();
    assertThat(user.canRead(ScanRange.prefix(bytes("ap")))).as("wider than app/").isFalse();
    // "pub/" and "puc" are adjacent: [pub/, pub0) then [puc, pud) leaves the gap [pub0, puc).
    assertThat(user.canRead(ScanRange.between(bytes("pub/a"), bytes("pucz")))).isFalse();
  }

  @Test
  void adjacentPrefixesCoverTogether() {
    Principal two =
        Principal.user("bob", List.of(permission("a", false), permission("b", false)), false);
    assertThat(two.canRead(ScanRange.between(bytes("a"), bytes("c")))).isTrue();
    assertThat(two.canRead(ScanRange.between(bytes("a"), bytes("c\0")))).isFalse();
    Principal everything = Principal.user("carol", List.of(permission("", false)), false);
    assertThat(everything.canRead(ScanRange.prefix(new byte[0]))).isTrue();
    assertThat(everything.canWrite(bytes("x"))).isFalse();
  }

  @Test
  void adminAndNodesMayDoAll() {
    Principal admin = Principal.user("root", List.of(), true);
    assertThat(admin.canWrite(bytes("anything"))).isTrue();
    assertThat(admin.canRead(ScanRange.prefix(new byte[0]))).isTrue();
    assertThat(Principal.node().admin()).isTrue();
    assertThat(Principal.node().rateLimited()).isFalse();
    assertThat(admin.rateLimited()).isTrue();
  }
}
