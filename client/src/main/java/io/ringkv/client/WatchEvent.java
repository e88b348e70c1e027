package io.ringkv.client;

import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * One change of one key, as the changefeed recorded it.
 *
 * @param partition the key's partition
 * @param revision the partition's revision of the change (for a snapshot event: the key's last
 *     modification revision)
 * @param ordinal position among the events of the same revision (a transaction makes several)
 * @param kind put or delete
 * @param key the key
 * @param value the new value (empty for a delete)
 * @param prevValue the previous value, when the query asked for it and there was one
 * @param createRevision revision of the key's creation
 * @param version the key's version after the change
 * @param hlcPhysicalMillis hybrid logical clock of the write, physical part (milliseconds)
 * @param hlcLogical hybrid logical clock of the write, logical counter
 * @param fromSnapshot delivered by a snapshot scan: the key's state then, not a change as it
 *     happened; snapshot events come in key order and do not move the cursor
 * @param cursor where to resume after this event
 */
public record WatchEvent(
    int partition,
    long revision,
    int ordinal,
    Kind kind,
    byte[] key,
    byte[] value,
    Optional<byte[]> prevValue,
    long createRevision,
    long version,
    long hlcPhysicalMillis,
    int hlcLogical,
    boolean fromSnapshot,
    WatchCursor cursor)
    implements WatchItem {

  public enum Kind {
    PUT,
    DELETE
  }

  public String keyUtf8() {
    return new String(key, StandardCharsets.UTF_8);
  }

  public String valueUtf8() {
    return new String(value, StandardCharsets.UTF_8);
  }

  static WatchEvent of(io.ringkv.proto.v1.Event event, WatchCursor cursor) {
    return new WatchEvent(
        event.getPartition(),
        event.getRevision(),
        event.getOrdinal(),
        event.getKind() == io.ringkv.proto.v1.Event.Kind.DELETE ? Kind.DELETE : Kind.PUT,
        event.getKey().toByteArray(),
        event.getValue().toByteArray(),
        event.getPrevFound() ? Optional.of(event.getPrevValue().toByteArray()) : Optional.empty(),
        event.getCreateRevision(),
        event.getVersion(),
        event.getHlcPhysicalMillis(),
        event.getHlcLogical(),
        event.getFromSnapshot(),
        cursor);
  }

  @Override
  public String toString() {
    return "WatchEvent["
        + partition
        + ":"
        + revision
        + "/"
        + ordinal
        + " "
        + kind
        + " "
        + keyUtf8()
        + (fromSnapshot ? " (snapshot)" : "")
        + "]";
  }
}
