package io.ringkv.client;

/** How current a read must be. */
public enum Consistency {
  /** Sees every write acknowledged before the read began (ReadIndex on the leader). The default. */
  LINEARIZABLE,
  /** Served from one replica's applied state: possibly stale, never torn; cheaper. */
  SERIALIZABLE;

  io.ringkv.proto.v1.ReadConsistency toProto() {
    return this == LINEARIZABLE
        ? io.ringkv.proto.v1.ReadConsistency.LINEARIZABLE
        : io.ringkv.proto.v1.ReadConsistency.SERIALIZABLE;
  }
}
