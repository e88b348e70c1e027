package io.ringkv.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.internal.AuthRecord;
import io.ringkv.proto.v1.Permission;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Proves the auth record's changes and the token scheme: enabling needs an admin, the last admin
 * cannot be removed while auth is on, a token verifies only for its own user and only whole, the
 * record holds no token (only salt and hash), the view forgets remembered tokens when the record
 * changes (a deleted user's token stops working), and a record served to other nodes has no nodes'
 * token.
 */
class AuthRecordsTest {
  private final SplittableRandom random = new SplittableRandom(16);

  private static Status.Code code(Runnable change) {
    try {
      change.run();
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
  }

  @Test
  void enableNeedsAnAdminAndTheLastAdminStays() {
    AuthRecord empty = AuthRecord.getDefaultInstance();
    assertThat(code(() -> AuthRecords.enable(empty, "n")))
        .isEqualTo(Status.Code.FAILED_PRECONDITION);
    AuthRecord withRoot = AuthRecords.addUser(empty, "root", Tokens.issue("root", random));
    withRoot = AuthRecords.grantUserRole(withRoot, "root", AuthLimits.ADMIN_ROLE);
    AuthRecord on = AuthRecords.enable(withRoot, "node-secret");
    assertThat(on.getEnabled()).isTrue();
    assertThat(on.getNodeTokenHash().size()).isEqualTo(32);
    AuthRecord enabled = on;
    assertThat(code(() -> AuthRecords.deleteUser(enabled, "root")))
        .isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(code(() -> AuthRecords.revokeUserRole(enabled, "root", AuthLimits.ADMIN_ROLE)))
        .isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(AuthRecords.deleteUser(AuthRecords.disable(on), "root").getUsersCount()).isZero();
    assertThat(AuthRecords.enable(on, "other").getNodeToken())
        .as("made once, kept")
        .isEqualTo(ByteString.copyFromUtf8("node-secret"));
    assertThat(AuthRecords.withoutSecrets(on).getNodeToken().isEmpty()).isTrue();
    assertThat(AuthRecords.withoutSecrets(on).getNodeTokenHash()).isEqualTo(on.getNodeTokenHash());
  }

  @Test
  void namesRolesAndPermissionsAreChecked() {
    AuthRecord record = AuthRecord.getDefaultInstance();
    assertThat(code(() -> AuthRecords.addUser(AuthRecord.getDefaultInstance(), "a.b", null)))
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
    AuthRecord withUser = AuthRecords.addUser(record, "alice", Tokens.issue("alice", random));
    assertThat(code(() -> AuthRecords.addUser(withUser, "alice", Tokens.issue("alice", random))))
        .isEqualTo(Status.Code.ALREADY_EXISTS);
    assertThat(code(() -> AuthRecords.grantUserRole(withUser, "alice", "nope")))
        .isEqualTo(Status.Code.NOT_FOUND);
    assertThat(code(() -> AuthRecords.addRole(withUser, AuthLimits.ADMIN_ROLE)))
        .isEqualTo(Status.Code.ALREADY_EXISTS);
    AuthRecord withRole = AuthRecords.addRole(withUser, "reader");
    Permission read = Permission.newBuilder().setPrefix(ByteString.copyFromUtf8("app/")).build();
    withRole = AuthRecords.grantPermission(withRole, "reader", read);
    withRole =
        AuthRecords.grantPermission(
            withRole, "reader", read.toBuilder().setAccess(Permission.Access.READWRITE).build());
    assertThat(AuthRecords.role(withRole, "reader").orElseThrow().getPermissionsList())
        .as("a grant on the same prefix replaces the earlier one")
        .containsExactly(read.toBuilder().setAccess(Permission.Access.READWRITE).build());
    AuthRecord revoked =
        AuthRecords.revokePermission(withRole, "reader", ByteString.copyFromUtf8("app/"));
    assertThat(AuthRecords.role(revoked, "reader").orElseThrow().getPermissionsCount()).isZero();
    assertThatThrownBy(
            () -> AuthRecords.revokePermission(revoked, "reader", ByteString.copyFromUtf8("app/")))
        .isInstanceOf(StatusRuntimeException.class);
  }

  @Test
  void tokensAreStoredOnlyAsSaltedHashesAndVerifyWhole() {
    Tokens.Issued alice = Tokens.issue("alice", random);
    Tokens.Issued bob = Tokens.issue("bob", random);
    AuthRecord record = AuthRecord.getDefaultInstance();
    record = AuthRecords.addUser(record, "alice", alice);
    record = AuthRecords.addUser(record, "bob", bob);
    String stored = record.toByteString().toString(StandardCharsets.ISO_8859_1);
    String aliceSecret = alice.token().substring(alice.token().indexOf('.') + 1);
    assertThat(aliceSecret).hasSizeGreaterThanOrEqualTo(43); // 256 bits in base64url
    assertThat(stored).doesNotContain(aliceSecret);
    assertThat(alice.salt()).isNotEqualTo(bob.salt());

    AuthView view = new AuthView();
    view.adopt(record, 1);
    assertThat(view.authenticate(alice.token()).orElseThrow().name()).isEqualTo("alice");
    assertThat(view.authenticate(alice.token()).orElseThrow().name())
        .as("remembered")
        .isEqualTo("alice");
    assertThat(view.authenticate(alice.token() + "x")).isEmpty();
    assertThat(view.authenticate(alice.token().substring(0, alice.token().length() - 1))).isEmpty();
    assertThat(view.authenticate("bob." + aliceSecret)).as("another user's name").isEmpty();
    assertThat(view.authenticate("nobody")).isEmpty();

    view.adopt(AuthRecords.deleteUser(record, "alice"), 2);
    assertThat(view.authenticate(alice.token())).as("deleted user's token").isEmpty();
    assertThat(view.adopt(record, 1)).as("an older revision is not taken").isFalse();
  }
}
