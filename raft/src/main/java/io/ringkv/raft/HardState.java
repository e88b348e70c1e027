package io.ringkv.raft;

/**
 * The state a member must persist before it sends any message that depends on it.
 *
 * @param term the latest term this member has seen
 * @param vote the member voted for in {@code term}, or 0 for none
 * @param commit the highest index known to be committed
 */
public record HardState(long term, long vote, long commit) {
  public static final HardState EMPTY = new HardState(0, 0, 0);

  public HardState {
    Invariants.check(
        term >= 0 && vote >= 0 && commit >= 0, "negative hard state %d/%d/%d", term, vote, commit);
  }

  public boolean isEmpty() {
    return equals(EMPTY);
  }
}
