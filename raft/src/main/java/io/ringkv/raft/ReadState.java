package io.ringkv.raft;

/**
 * A confirmed linearizable read: once the application has applied up to {@code index}, it may serve
 * the read request identified by {@code context} from its state machine.
 */
public record ReadState(long index, byte[] context) {
  public ReadState {
    Invariants.check(index >= 0 && context != null, "bad read state");
  }
}
