package io.ringkv.raft;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Golden-file interaction tests: each file under {@code src/test/resources/interaction} is a script
 * of steps ({@code > step}) each followed by what the core printed when it ran (see {@link
 * InteractionScript} for the steps). The test replays every step and requires the printed output to
 * equal the file's, so any change in the messages, Readies or states of these interactions shows as
 * a diff. Lines starting with {@code #} are comments. {@code -Drewrite=true} writes the actual
 * output back into the files instead of comparing; review the diff before committing.
 */
class InteractionTest {
  private static final Path DIRECTORY = Path.of("src/test/resources/interaction");
  private static final String STEP_PREFIX = "> ";

  @TestFactory
  Stream<DynamicTest> everyInteractionFileReplaysItsOutput() throws IOException {
    List<Path> files;
    try (Stream<Path> listing = Files.list(DIRECTORY)) {
      files = listing.filter(path -> path.toString().endsWith(".txt")).sorted().toList();
    }
    assertThat(files).as("interaction files in %s", DIRECTORY.toAbsolutePath()).isNotEmpty();
    return files.stream()
        .map(file -> DynamicTest.dynamicTest(file.getFileName().toString(), () -> check(file)));
  }

  private static void check(Path file) {
    String expected = read(file);
    String actual = replay(expected);
    if (Boolean.getBoolean("rewrite")) {
      write(file, actual);
      return;
    }
    assertThat(actual).as("%s (rerun with -Drewrite=true to accept)", file).isEqualTo(expected);
  }

  /** Replays the steps of {@code script}, keeping its comments, with freshly printed output. */
  static String replay(String script) {
    InteractionScript interaction = new InteractionScript();
    List<String> result = new ArrayList<>();
    for (String line : script.split("\n", -1)) {
      if (line.startsWith("#")) {
        result.add(line);
      } else if (line.startsWith(STEP_PREFIX)) {
        result.add(line);
        result.addAll(interaction.run(line.substring(STEP_PREFIX.length())));
        result.add("");
      }
    }
    while (!result.isEmpty() && result.get(result.size() - 1).isEmpty()) {
      result.remove(result.size() - 1);
    }
    return String.join("\n", result) + "\n";
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException failure) {
      throw new UncheckedIOException(failure);
    }
  }

  private static void write(Path file, String text) {
    try {
      Files.writeString(file, text, StandardCharsets.UTF_8);
    } catch (IOException failure) {
      throw new UncheckedIOException(failure);
    }
  }
}
