package io.ringkv.server.auth;

import io.ringkv.proto.internal.AuthRecord;
import io.ringkv.proto.internal.StoredUser;
import io.ringkv.proto.v1.Permission;
import io.ringkv.proto.v1.RoleInfo;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * This node's copy of the auth record (as of the newest meta group revision it has seen), and the
 * checks against it: a token to its user, a certificate name to its user, the nodes' token.
 *
 * <p>Verified tokens are remembered until the record changes, so a request costs one map lookup; a
 * token seen for the first time costs one SHA-256. The memory is bounded by {@link
 * AuthLimits#VERIFIED_TOKENS_MAX} and forgets everything when full (only bad actors fill it, and
 * they pay a hash per try anyway).
 */
public final class AuthView {
  private record Current(AuthRecord record, long revision) {}

  private volatile Current current = new Current(AuthRecord.getDefaultInstance(), 0);

  /**
   * Whether this node has read the auth state from a meta replica (its own or a voter's) since it
   * started. Until then it cannot tell "auth off" from "not learned yet", so the gate serves no
   * one.
   */
  private volatile boolean known;

  private final Map<String, Principal> verified = new ConcurrentHashMap<>();
  private final List<Consumer<AuthRecord>> listeners =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  /** Adopts {@code record} if {@code revision} is newer than the one held; true if it did. */
  public boolean adopt(AuthRecord record, long revision) {
    synchronized (this) {
      // The same revision is taken again only to learn the nodes' token (a meta replica's copy
      // has it, a polled copy does not).
      boolean learnsNodeToken =
          revision == current.revision()
              && current.record().getNodeToken().isEmpty()
              && !record.getNodeToken().isEmpty();
      if (revision < current.revision() || (revision == current.revision() && !learnsNodeToken)) {
        return false;
      }
      current = new Current(record, revision);
      verified.clear();
    }
    for (Consumer<AuthRecord> listener : listeners) {
      listener.accept(record);
    }
    return true;
  }

  /** Whether the auth state was read from a meta replica since start (see {@link #markKnown}). */
  public boolean known() {
    return known;
  }

  /** Records that a meta replica answered with the auth state (which {@link #adopt} took). */
  public void markKnown() {
    known = true;
  }

  /** Hears each record adopted from now on. */
  public void addListener(Consumer<AuthRecord> listener) {
    listeners.add(listener);
  }

  public boolean enabled() {
    return current.record().getEnabled();
  }

  public AuthRecord record() {
    return current.record();
  }

  public long revision() {
    return current.revision();
  }

  /** The user {@code token} belongs to, with its grants; empty for an unknown or wrong token. */
  public Optional<Principal> authenticate(String token) {
    Principal known = verified.get(token);
    if (known != null) {
      return Optional.of(known);
    }
    AuthRecord record = current.record();
    String userName = Tokens.userOf(token);
    if (userName == null) {
      return Optional.empty();
    }
    Optional<StoredUser> user = AuthRecords.user(record, userName);
    if (user.isEmpty() || !Tokens.matches(user.get(), token)) {
      return Optional.empty();
    }
    Principal principal = principalOf(record, user.get());
    if (verified.size() >= AuthLimits.VERIFIED_TOKENS_MAX) {
      verified.clear();
    }
    if (current.record() == record) {
      verified.put(token, principal);
    }
    return Optional.of(principal);
  }

  /** The user named by a verified client certificate, if the record has one of that name. */
  public Optional<Principal> byCertificateName(String name) {
    AuthRecord record = current.record();
    return AuthRecords.user(record, name).map(user -> principalOf(record, user));
  }

  /** Whether {@code token} is the nodes' token of this cluster. */
  public boolean isNodeToken(String token) {
    byte[] expected = current.record().getNodeTokenHash().toByteArray();
    return expected.length > 0
        && MessageDigest.isEqual(
            expected, Tokens.sha256(new byte[0], token.getBytes(StandardCharsets.UTF_8)));
  }

  /** The principal of a call that carried the nodes' token. */
  public Principal nodePrincipal() {
    return Principal.node();
  }

  /** The nodes' token when this node holds it (meta replicas do), else empty. */
  public Optional<String> nodeToken() {
    AuthRecord record = current.record();
    return record.getEnabled() && !record.getNodeToken().isEmpty()
        ? Optional.of(record.getNodeToken().toStringUtf8())
        : Optional.empty();
  }

  private static Principal principalOf(AuthRecord record, StoredUser user) {
    List<Permission> permissions = new ArrayList<>();
    boolean admin = false;
    for (String roleName : user.getRolesList()) {
      if (roleName.equals(AuthLimits.ADMIN_ROLE)) {
        admin = true;
        continue;
      }
      AuthRecords.role(record, roleName)
          .map(RoleInfo::getPermissionsList)
          .ifPresent(permissions::addAll);
    }
    return Principal.user(user.getName(), permissions, admin);
  }
}
