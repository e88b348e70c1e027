package io.ringkv.jepsen.history;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves histories are read in all three layouts (vector, list, bare maps one per line or spread
 * over lines), that extra keys and nemesis entries survive, that a missing {@code :index} becomes
 * the position, that the writer's one-map-per-line output reads back to equal ops, and that bad op
 * maps are rejected with their line.
 */
class HistoryReaderWriterTest {
  private static final Keyword READ = Keyword.of("read");
  private static final Keyword CAS = Keyword.of("cas");

  @Test
  void readsAVectorOfMultiLineMaps() throws Exception {
    String text =
        """
        ; a register
        [{:type :invoke,
          :f :read,
          :process 0, :time 10}
         {:process 0 :type :ok :f :read :value 3 :time 20 :extra "x \\"y\\""}
         {:process :nemesis, :type :info, :f :start, :value "cut [n1] off"}]
        """;
    List<Op> ops = HistoryReader.read(text, "t.edn");
    assertThat(ops).hasSize(3);
    assertThat(ops.get(0)).isEqualTo(Op.of(0, 0L, OpType.INVOKE, READ, null, 10));
    assertThat(ops.get(1).value()).isEqualTo(3L);
    assertThat(ops.get(1).index()).isEqualTo(1);
    assertThat(ops.get(1).extra()).isEqualTo(Map.of(Keyword.of("extra"), "x \"y\""));
    assertThat(ops.get(2).process()).isEqualTo(Keyword.of("nemesis"));
    assertThat(ops.get(2).isClient()).isFalse();
  }

  @Test
  void readsAListAndBareMapsAlike() throws Exception {
    String bare =
        "{:process 1 :type :invoke :f :cas :value [1 2] :index 7}\n"
            + "{:process 1 :type :fail :f :cas :value [1 2] :index 8 :error :mismatch}\n";
    List<Op> fromBare = HistoryReader.read(bare, "bare.edn");
    List<Op> fromList = HistoryReader.read("(" + bare + ")", "list.edn");
    assertThat(fromList).isEqualTo(fromBare);
    assertThat(fromBare.get(0).f()).isEqualTo(CAS);
    assertThat(fromBare.get(0).value()).isEqualTo(List.of(1L, 2L));
    assertThat(fromBare.get(1).index()).isEqualTo(8);
    assertThat(HistoryReader.read("  ; nothing\n", "empty.edn")).isEmpty();
  }

  @Test
  void writerWritesOneMapPerLineThatReadsBackEqual(@TempDir Path dir) throws Exception {
    List<Op> ops =
        List.of(
            Op.of(0, 3L, OpType.INVOKE, Keyword.of("write"), List.of(Keyword.of("k1"), 5L), 1_000),
            new Op(
                1,
                3L,
                OpType.INFO,
                Keyword.of("write"),
                List.of(Keyword.of("k1"), 5L),
                2_000,
                Map.of(Keyword.of("error"), "timed out: \"deadline\"")),
            Op.of(2, Keyword.of("nemesis"), OpType.INFO, Keyword.of("kill"), null, Op.ABSENT));
    Path file = dir.resolve("history.edn");
    HistoryWriter.write(file, ops);
    List<String> lines = Files.readAllLines(file);
    assertThat(lines).hasSize(3);
    assertThat(lines.get(0))
        .isEqualTo("{:type :invoke, :f :write, :value [:k1 5], :process 3, :time 1000, :index 0}");
    assertThat(HistoryReader.read(file)).isEqualTo(ops);
  }

  @Test
  void badOpMapsAreRejectedWithTheirLine() {
    assertThatThrownBy(() ->
            HistoryReader.read("{:process 0 :type :invoke :f :read}\n{:process 0 :f :read}", "h"))
        .isInstanceOf(MalformedEdnException.class)
        .hasMessage("h:2:1: op map has no :type");
    assertThatThrownBy(() -> HistoryReader.read("[{:process 0 :type :done :f :read}]", "h"))
        .hasMessageContaining("h:1:2: :type must be");
    assertThatThrownBy(() -> HistoryReader.read("[{:type :ok :f :read}]", "h"))
        .hasMessageContaining("no :process");
    assertThatThrownBy(() -> HistoryReader.read("[{:type :ok :process 0}]", "h"))
        .hasMessageContaining("no :f");
    assertThatThrownBy(() -> HistoryReader.read("[{:type :ok :process 0 :f :read :time -1}]", "h"))
        .hasMessageContaining(":time must be a non-negative integer");
    assertThatThrownBy(() -> HistoryReader.read("[1 2]", "h"))
        .hasMessageContaining("h:1:2: expected an op map, found 1");
    assertThatThrownBy(() -> HistoryReader.read("[{:type :ok :process 0 :f :read}] []", "h"))
        .hasMessageContaining("after the history");
    assertThatThrownBy(() -> HistoryReader.read("[{:type :ok :process 0 :f :read}", "h"))
        .hasMessageContaining("h:1:1: the history's opening bracket is never closed");
  }
}
