package io.ringkv.client.cli;

import io.ringkv.client.BlockingRingKvClient;
import io.ringkv.proto.v1.AuthStatusResponse;
import io.ringkv.proto.v1.Permission;
import io.ringkv.proto.v1.RoleInfo;
import io.ringkv.proto.v1.UserAddResponse;
import io.ringkv.proto.v1.UserInfo;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code ringctl auth enable | disable | status}, {@code auth user add | delete | grant-role |
 * revoke-role | list} and {@code auth role add | grant | revoke | list}.
 */
@Command(
    name = "auth",
    description = "Users, roles and the auth switch.",
    subcommands = {
      AuthCommands.Enable.class,
      AuthCommands.Disable.class,
      AuthCommands.Status.class,
      AuthCommands.User.class,
      AuthCommands.Role.class
    })
final class AuthCommands implements Callable<Integer> {
  @ParentCommand RingCtl root;

  @Override
  public Integer call() {
    root.err().println("ringctl: auth needs a subcommand: enable, disable, status, user or role");
    return RingCtl.EXIT_ERROR;
  }

  /** Runs one auth call and prints its answer as a line of text or as JSON. */
  static int run(
      RingCtl root,
      java.util.function.Function<io.ringkv.client.AuthAdmin, CompletableFuture<?>> call,
      java.util.function.Function<Object, Map<String, Object>> json,
      java.util.function.Function<Object, String> text) {
    return root.withClient(client -> {
      Object answer = BlockingRingKvClient.await(call.apply(client.auth()));
      root.out().println(root.json() ? Json.write(json.apply(answer)) : text.apply(answer));
      return RingCtl.EXIT_OK;
    });
  }

  static int status(
      RingCtl root,
      java.util.function.Function<io.ringkv.client.AuthAdmin, CompletableFuture<?>> call) {
    return run(
        root,
        call,
        answer -> Map.of("enabled", ((AuthStatusResponse) answer).getEnabled()),
        answer -> "auth is " + (((AuthStatusResponse) answer).getEnabled() ? "on" : "off"));
  }

  static int changed(
      RingCtl root,
      java.util.function.Function<io.ringkv.client.AuthAdmin, CompletableFuture<?>> call) {
    return run(root, call, answer -> Map.of("ok", true), answer -> "OK");
  }

  @Command(name = "enable", description = "Turns auth on (a user must hold the admin role).")
  static final class Enable implements Callable<Integer> {
    @ParentCommand AuthCommands auth;

    @Override
    public Integer call() {
      return status(auth.root, admin -> admin.enable());
    }
  }

  @Command(name = "disable", description = "Turns auth off: every call is served to anyone.")
  static final class Disable implements Callable<Integer> {
    @ParentCommand AuthCommands auth;

    @Override
    public Integer call() {
      return status(auth.root, admin -> admin.disable());
    }
  }

  @Command(name = "status", description = "Says whether auth is on.")
  static final class Status implements Callable<Integer> {
    @ParentCommand AuthCommands auth;

    @Override
    public Integer call() {
      return status(auth.root, admin -> admin.status());
    }
  }

  @Command(
      name = "user",
      description = "Users.",
      subcommands = {
        User.Add.class,
        User.Delete.class,
        User.GrantRole.class,
        User.RevokeRole.class,
        User.ListUsers.class
      })
  static final class User implements Callable<Integer> {
    @ParentCommand AuthCommands auth;

    @Override
    public Integer call() {
      auth.root
          .err()
          .println(
              "ringctl: auth user needs a subcommand: add, delete, grant-role, revoke-role, list");
      return RingCtl.EXIT_ERROR;
    }

    @Command(
        name = "add",
        description = "Creates user NAME and prints its token (shown only this once).")
    static final class Add implements Callable<Integer> {
      @ParentCommand User user;

      @Parameters(index = "0", paramLabel = "NAME")
      String name;

      @Override
      public Integer call() {
        return run(
            user.auth.root,
            admin -> admin.addUser(name),
            answer -> Map.of("user", name, "token", ((UserAddResponse) answer).getToken()),
            answer -> ((UserAddResponse) answer).getToken());
      }
    }

    @Command(name = "delete", description = "Deletes user NAME (its token stops working).")
    static final class Delete implements Callable<Integer> {
      @ParentCommand User user;

      @Parameters(index = "0", paramLabel = "NAME")
      String name;

      @Override
      public Integer call() {
        return changed(user.auth.root, admin -> admin.deleteUser(name));
      }
    }

    @Command(name = "grant-role", description = "Gives user NAME role ROLE (admin is built in).")
    static final class GrantRole implements Callable<Integer> {
      @ParentCommand User user;

      @Parameters(index = "0", paramLabel = "NAME")
      String name;

      @Parameters(index = "1", paramLabel = "ROLE")
      String role;

      @Override
      public Integer call() {
        return changed(user.auth.root, admin -> admin.grantRole(name, role));
      }
    }

    @Command(name = "revoke-role", description = "Takes role ROLE from user NAME.")
    static final class RevokeRole implements Callable<Integer> {
      @ParentCommand User user;

      @Parameters(index = "0", paramLabel = "NAME")
      String name;

      @Parameters(index = "1", paramLabel = "ROLE")
      String role;

      @Override
      public Integer call() {
        return changed(user.auth.root, admin -> admin.revokeRole(name, role));
      }
    }

    @Command(name = "list", description = "Lists users and their roles.")
    static final class ListUsers implements Callable<Integer> {
      @ParentCommand User user;

      @Override
      public Integer call() {
        return run(
            user.auth.root,
            admin -> admin.users(),
            answer -> {
              Map<String, Object> json = new LinkedHashMap<>();
              for (UserInfo info : ((io.ringkv.proto.v1.UserListResponse) answer).getUsersList()) {
                json.put(info.getName(), info.getRolesList());
              }
              return json;
            },
            answer -> {
              List<String> lines = new ArrayList<>();
              for (UserInfo info : ((io.ringkv.proto.v1.UserListResponse) answer).getUsersList()) {
                lines.add(info.getName() + "\t" + String.join(",", info.getRolesList()));
              }
              return String.join("\n", lines);
            });
      }
    }
  }

  @Command(
      name = "role",
      description = "Roles: read or readwrite on key prefixes.",
      subcommands = {Role.Add.class, Role.Grant.class, Role.Revoke.class, Role.ListRoles.class})
  static final class Role implements Callable<Integer> {
    @ParentCommand AuthCommands auth;

    @Override
    public Integer call() {
      auth.root.err().println("ringctl: auth role needs a subcommand: add, grant, revoke, list");
      return RingCtl.EXIT_ERROR;
    }

    enum Access {
      read,
      readwrite
    }

    @Command(name = "add", description = "Creates role NAME (with no permission yet).")
    static final class Add implements Callable<Integer> {
      @ParentCommand Role role;

      @Parameters(index = "0", paramLabel = "NAME")
      String name;

      @Override
      public Integer call() {
        return changed(role.auth.root, admin -> admin.addRole(name));
      }
    }

    @Command(
        name = "grant",
        description = "Gives role NAME read or readwrite access to keys starting with PREFIX.")
    static final class Grant implements Callable<Integer> {
      @ParentCommand Role role;

      @Parameters(index = "0", paramLabel = "NAME")
      String name;

      @Parameters(index = "1", paramLabel = "ACCESS", description = "read or readwrite")
      Access access;

      @Parameters(index = "2", paramLabel = "PREFIX", description = "key prefix (\"\" for all)")
      String prefix;

      @Override
      public Integer call() {
        return changed(
            role.auth.root,
            admin -> admin.grantPermission(name, RingCtl.utf8(prefix), access == Access.readwrite));
      }
    }

    @Command(name = "revoke", description = "Removes role NAME's permission on exactly PREFIX.")
    static final class Revoke implements Callable<Integer> {
      @ParentCommand Role role;

      @Parameters(index = "0", paramLabel = "NAME")
      String name;

      @Parameters(index = "1", paramLabel = "PREFIX")
      String prefix;

      @Override
      public Integer call() {
        return changed(role.auth.root, admin -> admin.revokePermission(name, RingCtl.utf8(prefix)));
      }
    }

    @Command(name = "list", description = "Lists roles and their permissions.")
    static final class ListRoles implements Callable<Integer> {
      @ParentCommand Role role;

      @Override
      public Integer call() {
        return run(
            role.auth.root,
            admin -> admin.roles(),
            answer -> {
              Map<String, Object> json = new LinkedHashMap<>();
              for (RoleInfo info : ((io.ringkv.proto.v1.RoleListResponse) answer).getRolesList()) {
                json.put(
                    info.getName(),
                    info.getPermissionsList().stream().map(Role::describe).toList());
              }
              return json;
            },
            answer -> {
              List<String> lines = new ArrayList<>();
              for (RoleInfo info : ((io.ringkv.proto.v1.RoleListResponse) answer).getRolesList()) {
                lines.add(
                    info.getName()
                        + "\t"
                        + String.join(
                            ", ", info.getPermissionsList().stream().map(Role::describe).toList()));
              }
              return String.join("\n", lines);
            });
      }
    }

    static String describe(Permission permission) {
      return (permission.getAccess() == Permission.Access.READWRITE ? "readwrite" : "read")
          + " '"
          + permission.getPrefix().toString(StandardCharsets.UTF_8)
          + "'";
    }
  }
}
