package io.ringkv.bench.ycsb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import site.ycsb.ByteIterator;
import site.ycsb.StringByteIterator;

/**
 * Proves the record encoding both YCSB bindings share: it round-trips, equal records give equal
 * bytes whatever the map's order, field selection and merge work, and malformed bytes are refused.
 */
class FieldCodecTest {
  private static Map<String, ByteIterator> record(String... nameValues) {
    Map<String, ByteIterator> fields = new LinkedHashMap<>();
    for (int i = 0; i < nameValues.length; i += 2) {
      fields.put(nameValues[i], new StringByteIterator(nameValues[i + 1]));
    }
    return fields;
  }

  private static Map<String, String> strings(Map<String, ByteIterator> fields) {
    Map<String, String> out = new HashMap<>();
    fields.forEach((name, value) -> out.put(name, value.toString()));
    return out;
  }

  @Test
  void roundTripsAndIsIndependentOfMapOrder() {
    byte[] forward = FieldCodec.encode(record("field0", "a", "field1", "b2", "field2", ""));
    byte[] backward = FieldCodec.encode(record("field2", "", "field1", "b2", "field0", "a"));
    assertThat(forward).isEqualTo(backward);

    Map<String, ByteIterator> decoded = new HashMap<>();
    FieldCodec.decode(forward, null, decoded);
    assertThat(strings(decoded))
        .containsExactlyInAnyOrderEntriesOf(Map.of("field0", "a", "field1", "b2", "field2", ""));
  }

  @Test
  void layoutIsCountThenLengthPrefixedNamesAndValues() {
    byte[] encoded = FieldCodec.encode(record("f", "xy"));
    assertThat(encoded).containsExactly(0, 0, 0, 1, 0, 0, 0, 1, 'f', 0, 0, 0, 2, 'x', 'y');
  }

  @Test
  void decodeKeepsOnlyWantedFields() {
    byte[] encoded = FieldCodec.encode(record("field0", "a", "field1", "b"));
    Map<String, ByteIterator> decoded = new HashMap<>();
    FieldCodec.decode(encoded, Set.of("field1"), decoded);
    assertThat(strings(decoded)).containsExactlyEntriesOf(Map.of("field1", "b"));
  }

  @Test
  void mergeLaysUpdatesOverTheCurrentRecord() {
    byte[] current = FieldCodec.encode(record("field0", "a", "field1", "b"));
    byte[] merged = FieldCodec.merge(current, record("field1", "B"));
    assertThat(merged).isEqualTo(FieldCodec.encode(record("field0", "a", "field1", "B")));
    assertThat(FieldCodec.merge(null, record("field1", "B")))
        .isEqualTo(FieldCodec.encode(record("field1", "B")));
  }

  @Test
  void refusesTruncatedOrTrailingBytes() {
    byte[] encoded = FieldCodec.encode(record("field0", "value"));
    Map<String, ByteIterator> sink = new HashMap<>();
    assertThatThrownBy(
            () -> FieldCodec.decode(Arrays.copyOf(encoded, encoded.length - 1), null, sink))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () -> FieldCodec.decode(Arrays.copyOf(encoded, encoded.length + 1), null, sink))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("trailing");
    assertThatThrownBy(() -> FieldCodec.decode("junk".getBytes(StandardCharsets.UTF_8), null, sink))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
