package io.ringkv.raft;

import java.util.HashSet;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * A seeded network between simulated members: every message gets a random delay (so messages
 * reorder), may be dropped or duplicated, and never crosses a cut link. Links are directed, so
 * partitions can be asymmetric.
 */
final class SimulatedNetwork {
  record InFlight(long deliverAtTick, long sequence, Message message) {}

  private final SplittableRandom random;
  private final PriorityQueue<InFlight> inFlight =
      new PriorityQueue<>((a, b) ->
          a.deliverAtTick != b.deliverAtTick
              ? Long.compare(a.deliverAtTick, b.deliverAtTick)
              : Long.compare(a.sequence, b.sequence));
  private final Set<Long> cutLinks = new HashSet<>();
  private long sequence;

  double dropProbability;
  double duplicateProbability;
  int maxDelayTicks;
  long droppedCount;

  SimulatedNetwork(long seed) {
    this.random = new SplittableRandom(seed);
  }

  private static long link(long from, long to) {
    return from * 1_000_003L + to;
  }

  void cut(long from, long to) {
    cutLinks.add(link(from, to));
  }

  void cutBoth(long a, long b) {
    cut(a, b);
    cut(b, a);
  }

  void healAll() {
    cutLinks.clear();
  }

  boolean isCut(long from, long to) {
    return cutLinks.contains(link(from, to));
  }

  boolean anyCut() {
    return !cutLinks.isEmpty();
  }

  /** Queues a message; returns false if it was dropped at once. */
  boolean send(Message message, long nowTick) {
    if (isCut(message.from(), message.to()) || random.nextDouble() < dropProbability) {
      droppedCount++;
      return false;
    }
    enqueue(message, nowTick);
    if (random.nextDouble() < duplicateProbability) {
      enqueue(message, nowTick);
    }
    return true;
  }

  private void enqueue(Message message, long nowTick) {
    long delay = maxDelayTicks == 0 ? 0 : random.nextInt(maxDelayTicks + 1);
    inFlight.add(new InFlight(nowTick + delay, sequence++, message));
  }

  /**
   * SNAPSHOT messages dropped on arrival, for the simulation to report as failed to their sender
   * (as the node's snapshot transfer reports a transfer that did not arrive).
   */
  final java.util.List<Message> lostSnapshots = new java.util.ArrayList<>();

  /** The next message due at or before {@code nowTick}, or null. Cut links drop it on arrival. */
  Message poll(long nowTick) {
    while (!inFlight.isEmpty() && inFlight.peek().deliverAtTick <= nowTick) {
      Message message = inFlight.poll().message;
      if (isCut(message.from(), message.to())) {
        droppedCount++;
        if (message.type() == MessageType.SNAPSHOT) {
          lostSnapshots.add(message);
        }
        continue;
      }
      return message;
    }
    return null;
  }

  int inFlightCount() {
    return inFlight.size();
  }
}
