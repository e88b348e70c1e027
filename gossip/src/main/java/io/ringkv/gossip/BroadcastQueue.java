package io.ringkv.gossip;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Updates waiting to be piggybacked, at most one per member (a newer fact about a member replaces
 * the older one). Packets take the least-sent updates first, newest first among equals, and an
 * update leaves after the retransmit limit. The queue is bounded: when full, the most-sent update
 * is dropped and counted, since it has already had the most chances to spread.
 */
final class BroadcastQueue {
  private record Entry(Update update, int transmits, long order) {}

  private static final Comparator<Entry> LEAST_SENT_NEWEST_FIRST =
      Comparator.comparingInt(Entry::transmits)
          .thenComparing(Comparator.comparingLong(Entry::order).reversed());

  private final int entriesMax;
  private final TreeSet<Entry> entries = new TreeSet<>(LEAST_SENT_NEWEST_FIRST);
  private final Map<String, Entry> byMember = new HashMap<>();
  private long nextOrder;
  private long overflowCount;

  BroadcastQueue(int entriesMax) {
    Invariants.check(entriesMax > 0, "broadcast queue bound must be positive: %s", entriesMax);
    this.entriesMax = entriesMax;
  }

  /** Queues {@code update}, replacing any queued update about the same member. */
  void add(Update update) {
    Entry previous = byMember.remove(update.memberId());
    if (previous != null) {
      entries.remove(previous);
    }
    Entry entry = new Entry(update, 0, nextOrder++);
    entries.add(entry);
    byMember.put(update.memberId(), entry);
    while (entries.size() > entriesMax) {
      Entry dropped = entries.pollLast();
      byMember.remove(dropped.update().memberId());
      overflowCount++;
    }
    Invariants.check(entries.size() == byMember.size(), "broadcast queue index out of step");
  }

  /**
   * Takes updates whose size bounds fit {@code budgetBytes}, counting one transmission for each and
   * dropping those that reach {@code retransmitLimit}.
   */
  List<Update> take(int budgetBytes, int retransmitLimit) {
    List<Entry> taken = new ArrayList<>();
    int remaining = budgetBytes;
    for (Entry entry : entries) {
      int bytes = WireLimits.updateBytesBound(entry.update());
      if (bytes <= remaining) {
        taken.add(entry);
        remaining -= bytes;
      }
      if (remaining < WireLimits.HEADER_BYTES_MAX / 8) {
        break;
      }
    }
    List<Update> updates = new ArrayList<>(taken.size());
    for (Entry entry : taken) {
      entries.remove(entry);
      updates.add(entry.update());
      Entry sent = new Entry(entry.update(), entry.transmits() + 1, entry.order());
      if (sent.transmits() >= retransmitLimit) {
        byMember.remove(entry.update().memberId());
      } else {
        entries.add(sent);
        byMember.put(entry.update().memberId(), sent);
      }
    }
    return updates;
  }

  /** The queued update about {@code memberId}, or null. */
  Update queued(String memberId) {
    Entry entry = byMember.get(memberId);
    return entry == null ? null : entry.update();
  }

  int size() {
    return entries.size();
  }

  long overflowCount() {
    return overflowCount;
  }
}
