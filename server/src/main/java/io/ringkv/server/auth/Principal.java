package io.ringkv.server.auth;

import io.ringkv.proto.v1.Permission;
import io.ringkv.storage.ScanRange;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Who a call runs as, and what it may touch: a user with its roles' grants flattened, or a node of
 * the cluster (internal calls, which may do what the admin role may). Checks are pure.
 *
 * <p>A range is readable only if the union of the readable prefixes covers all of it: a scan or
 * watch that crosses into a prefix the user may not read is refused, never silently cut, so a
 * client never takes a partial answer for the whole.
 *
 * @param name the user's name, or "node" for a node
 * @param admin holds the admin role (or is a node)
 * @param rateLimited whether the per-user request rate applies (not to nodes)
 * @param grants key prefixes with their access
 */
public record Principal(String name, boolean admin, boolean rateLimited, List<Grant> grants) {
  /** Access to every key that starts with {@code prefix}. */
  public record Grant(byte[] prefix, boolean write) {}

  public Principal {
    grants = List.copyOf(grants);
  }

  /** A node calling another node with the nodes' token. */
  static Principal node() {
    return new Principal("node", true, false, List.of());
  }

  static Principal user(String name, List<Permission> permissions, boolean admin) {
    List<Grant> grants = new ArrayList<>();
    for (Permission permission : permissions) {
      grants.add(
          new Grant(
              permission.getPrefix().toByteArray(),
              permission.getAccess() == Permission.Access.READWRITE));
    }
    return new Principal(name, admin, true, grants);
  }

  public boolean canRead(byte[] key) {
    if (admin) {
      return true;
    }
    for (Grant grant : grants) {
      if (startsWith(key, grant.prefix())) {
        return true;
      }
    }
    return false;
  }

  public boolean canWrite(byte[] key) {
    if (admin) {
      return true;
    }
    for (Grant grant : grants) {
      if (grant.write() && startsWith(key, grant.prefix())) {
        return true;
      }
    }
    return false;
  }

  /** Whether every key of {@code range} is readable. */
  public boolean canRead(ScanRange range) {
    if (admin) {
      return true;
    }
    List<ScanRange> readable = new ArrayList<>();
    for (Grant grant : grants) {
      readable.add(ScanRange.prefix(grant.prefix()));
    }
    readable.sort(Comparator.comparing(ScanRange::start, Arrays::compareUnsigned));
    // Walk the readable ranges in start order, extending what is covered from range.start on.
    byte[] covered = range.start();
    for (ScanRange piece : readable) {
      if (Arrays.compareUnsigned(piece.start(), covered) > 0) {
        break; // a gap before this piece: the key `covered` is not readable
      }
      if (piece.end() == null) {
        return true;
      }
      if (Arrays.compareUnsigned(piece.end(), covered) > 0) {
        covered = piece.end();
      }
      if (range.end() != null && Arrays.compareUnsigned(covered, range.end()) >= 0) {
        return true;
      }
    }
    return false;
  }

  private static boolean startsWith(byte[] key, byte[] prefix) {
    return key.length >= prefix.length
        && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
  }
}
