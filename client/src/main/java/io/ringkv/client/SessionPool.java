package io.ringkv.client;

import io.ringkv.proto.v1.WriteSession;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;
import java.util.random.RandomGenerator;

/**
 * Write sessions for exactly-once retries (see the session contract): each write borrows a session
 * no other write is using, takes the next sequence number, retries with that same (id, sequence),
 * and gives the session back when the call ends, whatever the outcome. A session therefore never
 * has two writes in flight, which is what lets the server keep just the last sequence per session.
 *
 * <p>Session ids are random non-zero 64-bit numbers, so two clients practically never share one. At
 * most {@code idleMax} released sessions are kept; beyond that they are dropped (the server expires
 * them by its session TTL).
 */
final class SessionPool {
  /** One session; its sequence only grows. */
  static final class Session {
    private final long id;
    private long lastSequence;

    private Session(long id) {
      this.id = id;
    }

    long id() {
      return id;
    }

    /** The (id, sequence) for the next write of this session. */
    WriteSession nextWrite() {
      lastSequence++;
      return WriteSession.newBuilder().setSessionId(id).setSequence(lastSequence).build();
    }

    long lastSequence() {
      return lastSequence;
    }
  }

  private final RandomGenerator random;
  private final int idleMax;
  private final ArrayDeque<Session> idle = new ArrayDeque<>();
  private final Set<Long> inUse = new HashSet<>();

  SessionPool(RandomGenerator random, int idleMax) {
    if (idleMax < 1) {
      throw new IllegalArgumentException("idle session max must be >= 1, got " + idleMax);
    }
    this.random = random;
    this.idleMax = idleMax;
  }

  synchronized Session acquire() {
    Session session = idle.pollFirst();
    if (session == null) {
      long id;
      do {
        id = random.nextLong();
      } while (id == 0 || inUse.contains(id));
      session = new Session(id);
    }
    if (!inUse.add(session.id)) {
      throw new IllegalStateException("session " + session.id + " handed out twice");
    }
    return session;
  }

  synchronized void release(Session session) {
    if (!inUse.remove(session.id)) {
      throw new IllegalStateException("session " + session.id + " released but not in use");
    }
    if (idle.size() < idleMax) {
      idle.addFirst(session);
    }
  }

  /** Ends a session that expired on the server: it is never handed out again. */
  synchronized void discard(Session session) {
    if (!inUse.remove(session.id)) {
      throw new IllegalStateException("session " + session.id + " discarded but not in use");
    }
  }

  synchronized int inUseCount() {
    return inUse.size();
  }

  synchronized int idleCount() {
    return idle.size();
  }
}
