package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Proves the cursor value: its text form round-trips (the form ringctl prints and --from reads),
 * {@code with} keeps partitions sorted and leaves the original unchanged, and bad text or negative
 * entries are refused with a message naming them.
 */
class WatchCursorTest {
  @Test
  void textFormRoundTrips() {
    WatchCursor cursor = WatchCursor.of(Map.of(3, 42L, 0, 17L, 12, 0L));
    assertThat(cursor.toString()).isEqualTo("0:17,3:42,12:0");
    assertThat(WatchCursor.parse(cursor.toString())).isEqualTo(cursor);
    assertThat(WatchCursor.parse("-")).isEqualTo(WatchCursor.empty());
    assertThat(WatchCursor.empty().toString()).isEqualTo("-");
  }

  @Test
  void withAddsInOrderAndCopies() {
    WatchCursor base = WatchCursor.parse("1:5,4:9");
    WatchCursor more = base.with(2, 7).with(0, 1).with(4, 10);
    assertThat(more.toString()).isEqualTo("0:1,1:5,2:7,4:10");
    assertThat(base.toString()).isEqualTo("1:5,4:9");
    assertThat(more.revision(2)).hasValue(7);
    assertThat(more.revision(3)).isEmpty();
    assertThat(base.with(1, 5)).isSameAs(base);
  }

  @Test
  void badInputIsRefused() {
    assertThatThrownBy(() -> WatchCursor.parse("0:1,x")).hasMessageContaining("'x'");
    assertThatThrownBy(() -> WatchCursor.parse("0:1,0:2")).hasMessageContaining("twice");
    assertThatThrownBy(() -> WatchCursor.parse("0:-1")).hasMessageContaining(">= 0");
    assertThatThrownBy(() -> WatchCursor.empty().with(-1, 0)).hasMessageContaining(">= 0");
  }
}
