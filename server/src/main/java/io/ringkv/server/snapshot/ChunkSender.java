package io.ringkv.server.snapshot;

import io.ringkv.proto.internal.SnapshotChunk;
import io.ringkv.proto.internal.SnapshotChunkAck;

/** The peer transport as seen by snapshot transfers: non-blocking sends, false when dropped. */
public interface ChunkSender {
  boolean sendChunk(long toNodeId, SnapshotChunk chunk);

  boolean sendAck(long toNodeId, SnapshotChunkAck ack);
}
