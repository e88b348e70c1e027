package io.ringkv.jepsen.history;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Proves the EDN reader understands every form Jepsen histories use (scalars, strings with escapes,
 * keywords, symbols, the four collections, tags, comments, commas, discards), that the writer's
 * output reads back to the same value, and that malformed input is rejected with the line and
 * column where it goes wrong.
 */
class EdnReaderTest {
  private static Object read(String text) throws MalformedEdnException {
    return EdnReader.readOne(text, "test");
  }

  private static MalformedEdnException malformed(String text) {
    try {
      EdnReader.readAll(text, "test");
    } catch (MalformedEdnException e) {
      return e;
    }
    throw new AssertionError("expected malformed EDN: " + text);
  }

  @Test
  void readsScalars() throws Exception {
    assertThat(read("nil")).isNull();
    assertThat(read("true")).isEqualTo(true);
    assertThat(read("false")).isEqualTo(false);
    assertThat(read("42")).isEqualTo(42L);
    assertThat(read("-7")).isEqualTo(-7L);
    assertThat(read("+7")).isEqualTo(7L);
    assertThat(read("3N")).isEqualTo(3L);
    assertThat(read("123456789012345678901234567890"))
        .isEqualTo(new BigInteger("123456789012345678901234567890"));
    assertThat(read("1.5")).isEqualTo(1.5);
    assertThat(read("-2e3")).isEqualTo(-2000.0);
    assertThat(read("1.25M")).isEqualTo(new BigDecimal("1.25"));
    assertThat(read("##Inf")).isEqualTo(Double.POSITIVE_INFINITY);
    assertThat(read(":invoke")).isEqualTo(Keyword.of("invoke"));
    assertThat(read(":jepsen.history/op")).isEqualTo(Keyword.of("jepsen.history/op"));
    assertThat(read("unlocked")).isEqualTo(new Symbol("unlocked"));
    assertThat(read("\\a")).isEqualTo('a');
    assertThat(read("\\newline")).isEqualTo('\n');
    assertThat(read("\\u0041")).isEqualTo('A');
  }

  @Test
  void readsStringsWithEscapes() throws Exception {
    assertThat(read("\"plain\"")).isEqualTo("plain");
    assertThat(read("\"say \\\"hi\\\"\\n\\ttab \\\\ \\u00e9\""))
        .isEqualTo("say \"hi\"\n\ttab \\ é");
    assertThat(read("\"two\nlines\"")).isEqualTo("two\nlines");
  }

  @Test
  void readsCollectionsWithNilInside() throws Exception {
    assertThat(read("[1 nil :a]")).isEqualTo(Arrays.asList(1L, null, Keyword.of("a")));
    assertThat(read("(1 2)")).isEqualTo(List.of(1L, 2L));
    assertThat(read("#{1 2 3}")).isEqualTo(Set.of(1L, 2L, 3L));
    Object map = read("{:x 0, :y nil, [1 2] {:nested #{}}}");
    assertThat(map).isInstanceOf(Map.class);
    Map<?, ?> m = (Map<?, ?>) map;
    assertThat(m.get(Keyword.of("x"))).isEqualTo(0L);
    assertThat(m.containsKey(Keyword.of("y"))).isTrue();
    assertThat(m.get(List.of(1L, 2L))).isEqualTo(Map.of(Keyword.of("nested"), Set.of()));
  }

  @Test
  void skipsCommentsCommasAndDiscards() throws Exception {
    String text = "; a comment\n[1, 2 ; trailing comment\n #_ 99 #_{:gone true} 3,,]\n; the end";
    assertThat(read(text)).isEqualTo(List.of(1L, 2L, 3L));
    assertThat(EdnReader.readAll("1 2 ;x\n 3", "test")).containsExactly(1L, 2L, 3L);
  }

  @Test
  void keepsTaggedElements() throws Exception {
    assertThat(read("#inst \"2026-11-23T20:00:00Z\""))
        .isEqualTo(new Tagged("inst", "2026-11-23T20:00:00Z"));
  }

  @Test
  void writerOutputReadsBackEqual() throws Exception {
    String text =
        "{:type :ok, :value [[:read :x nil] [:write :y \"q\\\"uote\\n\"]], :set #{1 -2.5 \\c},"
            + " :big 99999999999999999999, :dec 1.5M, :tag #inst \"t\", :sym unlocked, :no false}";
    Object value = read(text);
    assertThat(read(Edn.write(value))).isEqualTo(value);
  }

  @Test
  void malformedInputNamesLineAndColumn() {
    MalformedEdnException unterminated = malformed("{:a 1}\n{:b \"never closed}\n");
    assertThat(unterminated.line()).isEqualTo(2);
    assertThat(unterminated.column()).isEqualTo(5);
    assertThat(unterminated.reason()).contains("string is never closed");

    MalformedEdnException unclosed = malformed("[1 2\n 3");
    assertThat(unclosed.line()).isEqualTo(1);
    assertThat(unclosed.column()).isEqualTo(1);
    assertThat(unclosed.reason()).contains("never closed");

    MalformedEdnException unmatched = malformed("{:a 1}\n  {:b 2}}");
    assertThat(unmatched.line()).isEqualTo(2);
    assertThat(unmatched.column()).isEqualTo(9);
    assertThat(unmatched.reason()).contains("unmatched '}'");

    MalformedEdnException oddMap = malformed("\n\n{:a 1 :b}");
    assertThat(oddMap.line()).isEqualTo(3);
    assertThat(oddMap.column()).isEqualTo(7);
    assertThat(oddMap.reason()).contains("has no value");

    assertThat(malformed("{:a 1 :a 2}").reason()).contains("duplicate map key :a");
    assertThat(malformed("12abc").reason()).contains("malformed number");
    assertThat(malformed("\"bad \\q escape\"").reason()).contains("unknown string escape");
    assertThat(malformed("::auto").reason()).contains("auto-resolved");
    assertThat(malformed("#?(:clj 1)").reason()).contains("unsupported dispatch");
    assertThat(malformed("[1 2] @").getMessage()).startsWith("test:1:7: ");
  }

  @Test
  void deepNestingIsRejectedNotAStackOverflow() {
    String deep = "[".repeat(EdnReader.NESTING_DEPTH_MAX + 1);
    assertThat(malformed(deep).reason()).contains("nest deeper");
  }

  @Test
  void readOneRejectsTrailingText() {
    assertThatThrownBy(() -> read("1 2"))
        .isInstanceOf(MalformedEdnException.class)
        .hasMessageContaining("after the value");
    assertThatThrownBy(() -> read("  ; only a comment"))
        .isInstanceOf(MalformedEdnException.class)
        .hasMessageContaining("found nothing");
  }
}
