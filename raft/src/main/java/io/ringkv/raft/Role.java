package io.ringkv.raft;

/** A member's role in its current term. */
public enum Role {
  FOLLOWER,
  PRE_CANDIDATE,
  CANDIDATE,
  LEADER
}
