package io.ringkv.server.auth;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.internal.AuthRecord;
import io.ringkv.proto.internal.StoredUser;
import io.ringkv.proto.v1.Permission;
import io.ringkv.proto.v1.RoleInfo;
import io.ringkv.raft.Invariants;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The auth record's changes, as pure functions from one record to the next. Each checks its input
 * and refuses with the gRPC status a caller understands (INVALID_ARGUMENT, NOT_FOUND,
 * ALREADY_EXISTS, FAILED_PRECONDITION); each result keeps users and roles sorted and unique.
 */
public final class AuthRecords {
  private AuthRecords() {}

  public static Optional<StoredUser> user(AuthRecord record, String name) {
    return record.getUsersList().stream().filter(u -> u.getName().equals(name)).findFirst();
  }

  public static Optional<RoleInfo> role(AuthRecord record, String name) {
    return record.getRolesList().stream().filter(r -> r.getName().equals(name)).findFirst();
  }

  static AuthRecord addUser(AuthRecord record, String name, Tokens.Issued token) {
    checkName("user", name);
    if (user(record, name).isPresent()) {
      throw refused(Status.ALREADY_EXISTS, "user '" + name + "' exists");
    }
    StoredUser user =
        StoredUser.newBuilder()
            .setName(name)
            .setTokenSalt(token.salt())
            .setTokenHash(token.hash())
            .build();
    return withUsers(record, replaced(record.getUsersList(), name, user));
  }

  static AuthRecord deleteUser(AuthRecord record, String name) {
    StoredUser user = existingUser(record, name);
    AuthRecord next = withUsers(record, replaced(record.getUsersList(), name, null));
    if (record.getEnabled()
        && user.getRolesList().contains(AuthLimits.ADMIN_ROLE)
        && !hasAdmin(next)) {
      throw refused(
          Status.FAILED_PRECONDITION,
          "user '" + name + "' is the last admin; disable auth first or grant admin to another");
    }
    return next;
  }

  static AuthRecord grantUserRole(AuthRecord record, String name, String role) {
    StoredUser user = existingUser(record, name);
    if (!role.equals(AuthLimits.ADMIN_ROLE) && role(record, role).isEmpty()) {
      throw refused(Status.NOT_FOUND, "no role '" + role + "'");
    }
    if (user.getRolesList().contains(role)) {
      return record;
    }
    List<String> roles = new ArrayList<>(user.getRolesList());
    roles.add(role);
    roles.sort(Comparator.naturalOrder());
    StoredUser next = user.toBuilder().clearRoles().addAllRoles(roles).build();
    return withUsers(record, replaced(record.getUsersList(), name, next));
  }

  static AuthRecord revokeUserRole(AuthRecord record, String name, String role) {
    StoredUser user = existingUser(record, name);
    if (!user.getRolesList().contains(role)) {
      throw refused(Status.NOT_FOUND, "user '" + name + "' does not hold role '" + role + "'");
    }
    List<String> roles = new ArrayList<>(user.getRolesList());
    roles.remove(role);
    StoredUser changed = user.toBuilder().clearRoles().addAllRoles(roles).build();
    AuthRecord next = withUsers(record, replaced(record.getUsersList(), name, changed));
    if (record.getEnabled() && role.equals(AuthLimits.ADMIN_ROLE) && !hasAdmin(next)) {
      throw refused(
          Status.FAILED_PRECONDITION,
          "user '" + name + "' is the last admin; disable auth first or grant admin to another");
    }
    return next;
  }

  static AuthRecord addRole(AuthRecord record, String name) {
    checkName("role", name);
    if (name.equals(AuthLimits.ADMIN_ROLE) || role(record, name).isPresent()) {
      throw refused(Status.ALREADY_EXISTS, "role '" + name + "' exists");
    }
    return withRoles(
        record,
        replacedRole(record.getRolesList(), name, RoleInfo.newBuilder().setName(name).build()));
  }

  /** Adds the permission, replacing one of the role's on the same prefix. */
  static AuthRecord grantPermission(AuthRecord record, String name, Permission permission) {
    RoleInfo role = existingRole(record, name);
    if (permission.getPrefix().size() > AuthLimits.PREFIX_SIZE_BYTES_MAX) {
      throw refused(
          Status.INVALID_ARGUMENT,
          "prefix of "
              + permission.getPrefix().size()
              + " bytes is above "
              + AuthLimits.PREFIX_SIZE_BYTES_MAX);
    }
    List<Permission> permissions = withoutPrefix(role, permission.getPrefix());
    permissions.add(permission);
    permissions.sort(
        Comparator.comparing(p -> p.getPrefix(), ByteString.unsignedLexicographicalComparator()));
    RoleInfo next = role.toBuilder().clearPermissions().addAllPermissions(permissions).build();
    return withRoles(record, replacedRole(record.getRolesList(), name, next));
  }

  static AuthRecord revokePermission(AuthRecord record, String name, ByteString prefix) {
    RoleInfo role = existingRole(record, name);
    List<Permission> permissions = withoutPrefix(role, prefix);
    if (permissions.size() == role.getPermissionsCount()) {
      throw refused(
          Status.NOT_FOUND,
          "role '" + name + "' has no permission on prefix " + prefix.toStringUtf8());
    }
    RoleInfo next = role.toBuilder().clearPermissions().addAllPermissions(permissions).build();
    return withRoles(record, replacedRole(record.getRolesList(), name, next));
  }

  /**
   * Turns auth on. Refused unless a user holds the admin role (else nobody could ever manage the
   * cluster again). The nodes' token is made once, at the first enable, and kept.
   */
  static AuthRecord enable(AuthRecord record, String nodeToken) {
    if (!hasAdmin(record)) {
      throw refused(
          Status.FAILED_PRECONDITION,
          "no user holds the admin role: `ringctl auth user add NAME` and `ringctl auth user"
              + " grant-role NAME admin` first");
    }
    AuthRecord.Builder next = record.toBuilder().setEnabled(true);
    if (record.getNodeToken().isEmpty()) {
      ByteString token = ByteString.copyFromUtf8(nodeToken);
      next.setNodeToken(token)
          .setNodeTokenHash(ByteString.copyFrom(Tokens.sha256(new byte[0], token.toByteArray())));
    }
    return next.build();
  }

  static AuthRecord disable(AuthRecord record) {
    return record.toBuilder().setEnabled(false).build();
  }

  /** The record as served to other nodes: without the nodes' token itself. */
  public static AuthRecord withoutSecrets(AuthRecord record) {
    return record.toBuilder().clearNodeToken().build();
  }

  static boolean hasAdmin(AuthRecord record) {
    return record.getUsersList().stream()
        .anyMatch(u -> u.getRolesList().contains(AuthLimits.ADMIN_ROLE));
  }

  /** Refuses a record above {@link AuthLimits#RECORD_SIZE_BYTES_MAX}. */
  static AuthRecord checkSize(AuthRecord record) {
    if (record.getSerializedSize() > AuthLimits.RECORD_SIZE_BYTES_MAX) {
      throw refused(
          Status.RESOURCE_EXHAUSTED,
          "the auth record would be "
              + record.getSerializedSize()
              + " bytes, above its limit of "
              + AuthLimits.RECORD_SIZE_BYTES_MAX);
    }
    return record;
  }

  private static StoredUser existingUser(AuthRecord record, String name) {
    return user(record, name)
        .orElseThrow(() -> refused(Status.NOT_FOUND, "no user '" + name + "'"));
  }

  private static RoleInfo existingRole(AuthRecord record, String name) {
    if (name.equals(AuthLimits.ADMIN_ROLE)) {
      throw refused(Status.INVALID_ARGUMENT, "the built-in admin role cannot be changed");
    }
    return role(record, name)
        .orElseThrow(() -> refused(Status.NOT_FOUND, "no role '" + name + "'"));
  }

  static void checkName(String what, String name) {
    if (!AuthLimits.validName(name)) {
      throw refused(
          Status.INVALID_ARGUMENT,
          what
              + " name '"
              + name
              + "' must be 1 to "
              + AuthLimits.NAME_LENGTH_MAX
              + " letters, digits, '-' or '_'");
    }
  }

  private static List<Permission> withoutPrefix(RoleInfo role, ByteString prefix) {
    List<Permission> permissions = new ArrayList<>();
    for (Permission permission : role.getPermissionsList()) {
      if (!permission.getPrefix().equals(prefix)) {
        permissions.add(permission);
      }
    }
    return permissions;
  }

  /** {@code users} with {@code name}'s entry replaced by {@code user} (removed when null). */
  private static List<StoredUser> replaced(List<StoredUser> users, String name, StoredUser user) {
    List<StoredUser> next = new ArrayList<>();
    for (StoredUser existing : users) {
      if (!existing.getName().equals(name)) {
        next.add(existing);
      }
    }
    if (user != null) {
      next.add(user);
    }
    next.sort(Comparator.comparing(StoredUser::getName));
    return next;
  }

  private static List<RoleInfo> replacedRole(List<RoleInfo> roles, String name, RoleInfo role) {
    List<RoleInfo> next = new ArrayList<>();
    for (RoleInfo existing : roles) {
      if (!existing.getName().equals(name)) {
        next.add(existing);
      }
    }
    next.add(role);
    next.sort(Comparator.comparing(RoleInfo::getName));
    return next;
  }

  private static AuthRecord withUsers(AuthRecord record, List<StoredUser> users) {
    AuthRecord next = record.toBuilder().clearUsers().addAllUsers(users).build();
    Invariants.check(
        next.getUsersList().stream().map(StoredUser::getName).distinct().count()
            == next.getUsersCount(),
        "user names must stay unique");
    return next;
  }

  private static AuthRecord withRoles(AuthRecord record, List<RoleInfo> roles) {
    return record.toBuilder().clearRoles().addAllRoles(roles).build();
  }

  private static StatusRuntimeException refused(Status status, String message) {
    return status.withDescription(message).asRuntimeException();
  }
}
