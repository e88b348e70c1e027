package io.ringkv.jepsen.cli;

import io.ringkv.jepsen.checker.Verdict;
import io.ringkv.jepsen.history.EdnReader;
import io.ringkv.jepsen.history.MalformedEdnException;
import io.ringkv.jepsen.model.ModelKind;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The reference histories of a folder with an {@code expected.tsv} (tab-separated, one header line;
 * columns {@code file model expected source_path init ...}): each row names a history file, the
 * model and initial state to check it with, and the verdict it must get.
 */
public final class ReferenceHistories {
  private ReferenceHistories() {}

  /** One row of {@code expected.tsv}; {@code init} is the parsed EDN initial value. */
  public record Entry(Path file, ModelKind model, Verdict expected, Object init, String initText) {
    /** The history's file name, e.g. {@code etcd.edn}. */
    public String name() {
      return file.getFileName().toString();
    }
  }

  /** Reads {@code expected.tsv} in {@code folder}. */
  public static List<Entry> read(Path folder) throws IOException, MalformedEdnException {
    Path table = folder.resolve("expected.tsv");
    List<String> lines = Files.readAllLines(table, StandardCharsets.UTF_8);
    if (lines.isEmpty() || !lines.get(0).startsWith("file\tmodel\texpected\t")) {
      throw new IOException(table + " does not start with the header 'file model expected ...'");
    }
    List<Entry> entries = new ArrayList<>();
    for (int i = 1; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.isBlank()) {
        continue;
      }
      String[] columns = line.split("\t", -1);
      if (columns.length < 5) {
        throw new IOException(table + ":" + (i + 1) + ": expected at least 5 columns");
      }
      String initText = columns[4];
      Object init = EdnReader.readOne(initText, table + ":" + (i + 1) + " init");
      entries.add(
          new Entry(
              folder.resolve(columns[0]),
              ModelKind.fromName(columns[1]),
              Verdict.valueOf(columns[2].toUpperCase(Locale.ROOT)),
              init,
              initText));
    }
    return entries;
  }
}
