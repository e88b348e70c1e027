package io.ringkv.client;

import com.google.protobuf.ByteString;
import io.ringkv.proto.v1.AuthChangeResponse;
import io.ringkv.proto.v1.AuthDisableRequest;
import io.ringkv.proto.v1.AuthEnableRequest;
import io.ringkv.proto.v1.AuthGrpc;
import io.ringkv.proto.v1.AuthStatusRequest;
import io.ringkv.proto.v1.AuthStatusResponse;
import io.ringkv.proto.v1.Permission;
import io.ringkv.proto.v1.RoleGrantRequest;
import io.ringkv.proto.v1.RoleListRequest;
import io.ringkv.proto.v1.RoleListResponse;
import io.ringkv.proto.v1.RoleRequest;
import io.ringkv.proto.v1.UserAddRequest;
import io.ringkv.proto.v1.UserAddResponse;
import io.ringkv.proto.v1.UserListRequest;
import io.ringkv.proto.v1.UserListResponse;
import io.ringkv.proto.v1.UserRequest;
import io.ringkv.proto.v1.UserRoleRequest;
import java.util.concurrent.CompletableFuture;

/**
 * Users, roles and the auth switch; answers are the API's protobuf messages. Any node takes these
 * (it passes them on to the meta group's leader). Changes are sent as writes: if an answer is lost
 * after the change may have been made, the call fails with {@link OutcomeUnknownException} rather
 * than being sent again (a user added twice would get a second token).
 */
public final class AuthAdmin {
  private final RingKvClient client;

  AuthAdmin(RingKvClient client) {
    this.client = client;
  }

  /** Turns auth on; refused unless a user holds the admin role. */
  public CompletableFuture<AuthStatusResponse> enable() {
    return client.call(
        "auth enable",
        AuthGrpc.getEnableMethod(),
        AuthEnableRequest.getDefaultInstance(),
        null,
        true);
  }

  public CompletableFuture<AuthStatusResponse> disable() {
    return client.call(
        "auth disable",
        AuthGrpc.getDisableMethod(),
        AuthDisableRequest.getDefaultInstance(),
        null,
        true);
  }

  public CompletableFuture<AuthStatusResponse> status() {
    return client.call(
        "auth status",
        AuthGrpc.getStatusMethod(),
        AuthStatusRequest.getDefaultInstance(),
        null,
        false);
  }

  /** Creates user {@code name}; the answer holds its token, which is never shown again. */
  public CompletableFuture<UserAddResponse> addUser(String name) {
    return client.call(
        "adding user " + name,
        AuthGrpc.getUserAddMethod(),
        UserAddRequest.newBuilder().setName(name).build(),
        null,
        true);
  }

  public CompletableFuture<AuthChangeResponse> deleteUser(String name) {
    return client.call(
        "deleting user " + name,
        AuthGrpc.getUserDeleteMethod(),
        UserRequest.newBuilder().setName(name).build(),
        null,
        true);
  }

  public CompletableFuture<AuthChangeResponse> grantRole(String user, String role) {
    return client.call(
        "granting role " + role + " to " + user,
        AuthGrpc.getUserGrantRoleMethod(),
        UserRoleRequest.newBuilder().setName(user).setRole(role).build(),
        null,
        true);
  }

  public CompletableFuture<AuthChangeResponse> revokeRole(String user, String role) {
    return client.call(
        "revoking role " + role + " from " + user,
        AuthGrpc.getUserRevokeRoleMethod(),
        UserRoleRequest.newBuilder().setName(user).setRole(role).build(),
        null,
        true);
  }

  public CompletableFuture<UserListResponse> users() {
    return client.call(
        "listing users",
        AuthGrpc.getUserListMethod(),
        UserListRequest.getDefaultInstance(),
        null,
        false);
  }

  public CompletableFuture<AuthChangeResponse> addRole(String name) {
    return client.call(
        "adding role " + name,
        AuthGrpc.getRoleAddMethod(),
        RoleRequest.newBuilder().setName(name).build(),
        null,
        true);
  }

  /**
   * Grants role {@code name} read (or read-write) access to every key starting with {@code prefix}.
   */
  public CompletableFuture<AuthChangeResponse> grantPermission(
      String name, byte[] prefix, boolean readWrite) {
    Permission permission =
        Permission.newBuilder()
            .setPrefix(ByteString.copyFrom(prefix))
            .setAccess(readWrite ? Permission.Access.READWRITE : Permission.Access.READ)
            .build();
    return client.call(
        "granting a permission to role " + name,
        AuthGrpc.getRoleGrantMethod(),
        RoleGrantRequest.newBuilder().setName(name).setPermission(permission).build(),
        null,
        true);
  }

  /** Removes role {@code name}'s permission on exactly {@code prefix}. */
  public CompletableFuture<AuthChangeResponse> revokePermission(String name, byte[] prefix) {
    Permission permission = Permission.newBuilder().setPrefix(ByteString.copyFrom(prefix)).build();
    return client.call(
        "revoking a permission of role " + name,
        AuthGrpc.getRoleRevokeMethod(),
        RoleGrantRequest.newBuilder().setName(name).setPermission(permission).build(),
        null,
        true);
  }

  public CompletableFuture<RoleListResponse> roles() {
    return client.call(
        "listing roles",
        AuthGrpc.getRoleListMethod(),
        RoleListRequest.getDefaultInstance(),
        null,
        false);
  }
}
