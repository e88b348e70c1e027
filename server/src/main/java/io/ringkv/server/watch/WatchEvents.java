package io.ringkv.server.watch;

import com.google.protobuf.ByteString;
import io.ringkv.proto.v1.Event;
import io.ringkv.storage.ChangeRecord;
import io.ringkv.storage.KeyValue;
import io.ringkv.storage.StoredValue;

/** Change records and snapshot pairs as the events of the public API. Pure. */
final class WatchEvents {
  private WatchEvents() {}

  /** One applied change; the previous value only when the stream asked for it. */
  static Event change(int partition, ChangeRecord record, boolean prevKv) {
    Event.Builder event =
        Event.newBuilder()
            .setPartition(partition)
            .setRevision(record.revision())
            .setOrdinal(record.ordinal())
            .setKey(ByteString.copyFrom(record.key()))
            .setHlcPhysicalMillis(record.timestampMillis());
    StoredValue value = record.value();
    if (value == null) {
      event.setKind(Event.Kind.DELETE);
    } else {
      event
          .setKind(Event.Kind.PUT)
          .setValue(ByteString.copyFrom(value.value()))
          .setCreateRevision(value.createRevision())
          .setVersion(value.version());
    }
    if (prevKv && record.previous() != null) {
      event.setPrevFound(true).setPrevValue(ByteString.copyFrom(record.previous().value()));
    }
    return event.build();
  }

  /** A key's state in a snapshot, delivered as a PUT at its modification revision. */
  static Event snapshot(int partition, KeyValue pair) {
    StoredValue value = pair.value();
    return Event.newBuilder()
        .setPartition(partition)
        .setRevision(value.modRevision())
        .setKind(Event.Kind.PUT)
        .setKey(ByteString.copyFrom(pair.key()))
        .setValue(ByteString.copyFrom(value.value()))
        .setCreateRevision(value.createRevision())
        .setVersion(value.version())
        .setFromSnapshot(true)
        .build();
  }
}
