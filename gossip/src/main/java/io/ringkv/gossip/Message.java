package io.ringkv.gossip;

import java.util.List;

/**
 * The messages of the protocol. Every datagram message carries piggybacked {@link Update}s; {@link
 * PushPull} carries a whole member list and travels over a reliable stream instead.
 */
public sealed interface Message {
  /** Updates piggybacked on this message, newest facts first. */
  List<Update> updates();

  /** Whether this message needs the reliable (stream) transport rather than a datagram. */
  default boolean reliable() {
    return false;
  }

  /** Direct probe: the target answers with an {@link Ack} of the same sequence number. */
  record Ping(long sequence, String targetId, List<Update> updates) implements Message {
    public Ping {
      updates = List.copyOf(updates);
    }
  }

  /** Answer to a {@link Ping}, or forwarded by a helper for a {@link PingRequest}. */
  record Ack(long sequence, List<Update> updates) implements Message {
    public Ack {
      updates = List.copyOf(updates);
    }
  }

  /**
   * Lifeguard's negative answer: a helper tells the requester that the target did not answer in
   * time. A requester that hears neither ack nor nack from a helper learns that it is itself slow.
   */
  record Nack(long sequence, List<Update> updates) implements Message {
    public Nack {
      updates = List.copyOf(updates);
    }
  }

  /** Asks a helper to probe {@code targetId} and to forward its ack (or a nack) to the sender. */
  record PingRequest(long sequence, String targetId, String targetAddress, List<Update> updates)
      implements Message {
    public PingRequest {
      WireLimits.checkMemberId(targetId);
      WireLimits.checkAddress(targetAddress);
      updates = List.copyOf(updates);
    }
  }

  /** Nothing but piggybacked updates, sent every gossip interval. */
  record Gossip(List<Update> updates) implements Message {
    public Gossip {
      updates = List.copyOf(updates);
    }
  }

  /**
   * Anti-entropy: the sender's whole member list (itself included). A request is answered with the
   * receiver's list. It does not fit a datagram, so it goes over the stream transport.
   */
  record PushPull(boolean response, List<Update> updates) implements Message {
    public PushPull {
      updates = List.copyOf(updates);
    }

    @Override
    public boolean reliable() {
      return true;
    }
  }
}
