package io.ringkv.raft;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The leader's pending ReadIndex requests in arrival order, each with the commit index at arrival
 * and the members that acknowledged a heartbeat carrying its context. When a quorum acknowledged a
 * request, it and every earlier request are confirmed (the later heartbeat round proves leadership
 * for them too).
 */
final class ReadIndexQueue {
  static final int MAX_PENDING_REQUESTS = 4096;

  record Pending(Message request, long index, Set<Long> acks) {}

  private final LinkedHashMap<ByteBuffer, Pending> pending = new LinkedHashMap<>();

  /** Adds a request; returns false if the queue is full (the request is dropped). */
  boolean add(long index, Message request) {
    ByteBuffer key = ByteBuffer.wrap(request.context());
    if (pending.containsKey(key)) {
      return true;
    }
    if (pending.size() >= MAX_PENDING_REQUESTS) {
      return false;
    }
    pending.put(key, new Pending(request, index, new HashSet<>()));
    return true;
  }

  /** Records an acknowledgement; returns the acks so far, or null if the context is unknown. */
  Set<Long> recordAck(long from, byte[] context) {
    Pending request = pending.get(ByteBuffer.wrap(context));
    if (request == null) {
      return null;
    }
    request.acks().add(from);
    return request.acks();
  }

  /** Removes and returns the requests up to and including {@code context}. */
  List<Pending> confirmUpTo(byte[] context) {
    ByteBuffer key = ByteBuffer.wrap(context);
    if (!pending.containsKey(key)) {
      return List.of();
    }
    List<Pending> confirmed = new ArrayList<>();
    Iterator<Map.Entry<ByteBuffer, Pending>> iterator = pending.entrySet().iterator();
    while (iterator.hasNext()) {
      Map.Entry<ByteBuffer, Pending> next = iterator.next();
      confirmed.add(next.getValue());
      iterator.remove();
      if (next.getKey().equals(key)) {
        break;
      }
    }
    return confirmed;
  }

  /** The context of the newest pending request, or null. */
  byte[] lastContext() {
    byte[] last = null;
    for (Pending request : pending.values()) {
      last = request.request().context();
    }
    return last;
  }

  void clear() {
    pending.clear();
  }
}
