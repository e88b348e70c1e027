package io.ringkv.client.cli;

import io.ringkv.client.RingKvClient;
import io.ringkv.client.WatchCursor;
import io.ringkv.client.WatchEvent;
import io.ringkv.client.WatchItem;
import io.ringkv.client.WatchQuery;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code ringctl watch}: prints changes as they are applied and, on exit (Ctrl-C, {@code
 * --max-events}, {@code --timeout}, or an error), the position to resume from, in the form {@code
 * --from} accepts. The client resumes by itself after node failures; this command only ends on its
 * own when the watch fails for good (for example a compacted cursor without {@code --on-compacted
 * snapshot}).
 */
@Command(
    name = "watch",
    description = {
      "Prints changes of a key, a prefix or every key as they happen.",
      "On exit prints 'cursor: C' (table) or {\"cursor\":\"C\"} (ndjson); --from C resumes there."
    })
final class WatchCommand implements Callable<Integer> {
  /** Items the command holds between the watch and the printer. */
  static final int ITEMS_QUEUED_MAX = 64;

  @ParentCommand RingCtl root;

  static final class Selection {
    @Option(names = "--key", description = "watch one key")
    String key;

    @Option(names = "--prefix", description = "watch every key with this prefix")
    String prefix;

    @Option(names = "--all", description = "watch every key")
    boolean all;
  }

  @ArgGroup(exclusive = true, multiplicity = "1")
  Selection selection;

  @Option(
      names = "--from",
      defaultValue = "now",
      description =
          "now, oldest, snapshot, or a cursor printed by an earlier watch (default: ${DEFAULT-VALUE})")
  String from;

  enum WatchOutput {
    table,
    ndjson
  }

  @Option(
      names = "--output",
      defaultValue = "table",
      description = "table or ndjson, one JSON object per line (default: ${DEFAULT-VALUE})")
  WatchOutput output;

  @Option(names = "--prev-kv", description = "print each change's previous value")
  boolean prevKv;

  enum CompactedAction {
    fail,
    snapshot
  }

  @Option(
      names = "--on-compacted",
      defaultValue = "fail",
      description =
          "when the start is older than retention: fail, or continue from a snapshot"
              + " (default: ${DEFAULT-VALUE})")
  CompactedAction onCompacted;

  @Option(
      names = "--max-events",
      defaultValue = "0",
      description = "exit after this many events (0: no limit)")
  long maxEvents;

  @Option(
      names = "--timeout",
      description = "exit after this long, e.g. 500ms, 30s, 5m (default: none)")
  String timeout;

  /** The start the user asked for and the cursor, if any. */
  record From(WatchQuery.Start start, WatchCursor cursor) {
    /**
     * Parses {@code now|oldest|snapshot}, a cursor ({@code 0:17,3:42}), or a start and a cursor
     * ({@code snapshot+0:17}: partitions the cursor does not list start from a snapshot).
     */
    static From parse(String text) {
      String trimmed = text.trim();
      int plus = trimmed.indexOf('+');
      String word = plus >= 0 ? trimmed.substring(0, plus) : trimmed;
      WatchQuery.Start start =
          switch (word.toLowerCase(Locale.ROOT)) {
            case "now" -> WatchQuery.Start.NOW;
            case "oldest" -> WatchQuery.Start.OLDEST;
            case "snapshot" -> WatchQuery.Start.SNAPSHOT;
            default -> null;
          };
      if (start == null) {
        return new From(WatchQuery.Start.NOW, WatchCursor.parse(trimmed));
      }
      return new From(
          start, plus >= 0 ? WatchCursor.parse(trimmed.substring(plus + 1)) : WatchCursor.empty());
    }

    /** The text --from accepts to resume here. */
    String format() {
      if (cursor.isEmpty()) {
        return start.name().toLowerCase(Locale.ROOT);
      }
      return start == WatchQuery.Start.NOW
          ? cursor.toString()
          : start.name().toLowerCase(Locale.ROOT) + "+" + cursor;
    }
  }

  static long parseDurationMillis(String text) {
    String trimmed = text.trim().toLowerCase(Locale.ROOT);
    long factor = 1000;
    String number = trimmed;
    if (trimmed.endsWith("ms")) {
      factor = 1;
      number = trimmed.substring(0, trimmed.length() - 2);
    } else if (trimmed.endsWith("s")) {
      number = trimmed.substring(0, trimmed.length() - 1);
    } else if (trimmed.endsWith("m")) {
      factor = 60_000;
      number = trimmed.substring(0, trimmed.length() - 1);
    }
    long value = Long.parseLong(number.trim());
    if (value <= 0) {
      throw new NumberFormatException("must be positive");
    }
    return Math.multiplyExact(value, factor);
  }

  @Override
  public Integer call() {
    From start;
    long timeoutMillis = 0;
    try {
      start = From.parse(from);
      if (timeout != null) {
        timeoutMillis = parseDurationMillis(timeout);
      }
    } catch (IllegalArgumentException e) {
      root.err().println("ringctl: --from or --timeout: " + e.getMessage());
      return RingCtl.EXIT_ERROR;
    }
    if (maxEvents < 0) {
      root.err().println("ringctl: --max-events must be >= 0, got " + maxEvents);
      return RingCtl.EXIT_ERROR;
    }
    long deadlineMillis = timeoutMillis;
    return root.withClient(client -> watch(client, start, deadlineMillis));
  }

  private WatchQuery query(From start) {
    WatchQuery query;
    if (selection.key != null) {
      query = WatchQuery.key(selection.key);
    } else if (selection.prefix != null) {
      query = WatchQuery.prefix(selection.prefix);
    } else {
      query = WatchQuery.all();
    }
    return query
        .fromCursor(start.cursor(), start.start())
        .withPrevKv(prevKv)
        .withOnCompacted(
            onCompacted == CompactedAction.snapshot
                ? WatchQuery.OnCompacted.SNAPSHOT
                : WatchQuery.OnCompacted.FAIL);
  }

  private int watch(RingKvClient client, From start, long timeoutMillis) {
    LinkedBlockingQueue<Object> items = new LinkedBlockingQueue<>(ITEMS_QUEUED_MAX);
    Flow.Subscription[] subscription = new Flow.Subscription[1];
    client
        .watch(query(start))
        .subscribe(
            new Flow.Subscriber<>() {
              @Override
              public void onSubscribe(Flow.Subscription s) {
                subscription[0] = s;
                s.request(ITEMS_QUEUED_MAX);
              }

              @Override
              public void onNext(WatchItem item) {
                items.add(item);
              }

              @Override
              public void onError(Throwable error) {
                items.offer(error);
              }

              @Override
              public void onComplete() {}
            });
    From[] resume = {start};
    AtomicBoolean ended = new AtomicBoolean();
    Thread printCursorOnInterrupt =
        new Thread(() -> {
          if (ended.compareAndSet(false, true)) {
            printCursor(resume[0]);
          }
        });
    Runtime.getRuntime().addShutdownHook(printCursorOnInterrupt);
    long deadline =
        timeoutMillis > 0 ? System.nanoTime() + timeoutMillis * 1_000_000 : Long.MAX_VALUE;
    long events = 0;
    int exit = RingCtl.EXIT_OK;
    try {
      while (maxEvents == 0 || events < maxEvents) {
        long leftNanos = deadline - System.nanoTime();
        if (leftNanos <= 0) {
          break;
        }
        Object next = items.poll(leftNanos, TimeUnit.NANOSECONDS);
        if (next == null) {
          break;
        }
        if (next instanceof Throwable error) {
          root.err().println("ringctl: " + error.getMessage());
          exit = RingCtl.EXIT_ERROR;
          break;
        }
        WatchItem item = (WatchItem) next;
        synchronized (resume) {
          resume[0] = new From(start.start(), item.cursor());
        }
        if (item instanceof WatchEvent event) {
          print(event);
          events++;
        }
        subscription[0].request(1);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      subscription[0].cancel();
    }
    if (ended.compareAndSet(false, true)) {
      printCursor(resume[0]);
      Runtime.getRuntime().removeShutdownHook(printCursorOnInterrupt);
    }
    return exit;
  }

  private void printCursor(From resume) {
    if (output == WatchOutput.ndjson) {
      root.out().println(Json.write(Map.of("cursor", resume.format())));
    } else {
      root.out().println("cursor: " + resume.format());
    }
    root.out().flush();
  }

  private void print(WatchEvent event) {
    String prev =
        event
            .prevValue()
            .map(v -> new String(v, java.nio.charset.StandardCharsets.UTF_8))
            .orElse(null);
    if (output == WatchOutput.ndjson) {
      Map<String, Object> json = new LinkedHashMap<>();
      json.put("kind", event.kind().name().toLowerCase(Locale.ROOT));
      json.put("key", event.keyUtf8());
      json.put("value", event.valueUtf8());
      if (prevKv) {
        json.put("prev_value", prev);
      }
      json.put("partition", event.partition());
      json.put("revision", event.revision());
      json.put("ordinal", event.ordinal());
      json.put("create_revision", event.createRevision());
      json.put("version", event.version());
      json.put("hlc_physical_millis", event.hlcPhysicalMillis());
      json.put("hlc_logical", event.hlcLogical());
      json.put("from_snapshot", event.fromSnapshot());
      json.put("cursor", event.cursor().toString());
      root.out().println(Json.write(json));
    } else {
      StringBuilder line =
          new StringBuilder()
              .append(event.fromSnapshot() ? "SNAPSHOT" : event.kind().name())
              .append('\t')
              .append(event.keyUtf8())
              .append('\t')
              .append(event.valueUtf8());
      if (prevKv) {
        line.append("\t(was ").append(prev == null ? "absent" : prev).append(')');
      }
      line.append("\t[p")
          .append(event.partition())
          .append(" r")
          .append(event.revision())
          .append(']');
      root.out().println(line);
    }
    root.out().flush();
  }
}
