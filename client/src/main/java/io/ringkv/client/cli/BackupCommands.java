package io.ringkv.client.cli;

import io.ringkv.client.RingKvClient;
import io.ringkv.client.backup.BackupException;
import io.ringkv.client.backup.BackupWriter;
import io.ringkv.client.backup.Restorer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code ringctl backup} and {@code ringctl restore}. */
final class BackupCommands {
  private BackupCommands() {}

  /** What both commands share: failures become a message and exit 2, progress goes to stderr. */
  abstract static class BackupCommand implements Callable<Integer> {
    @ParentCommand RingCtl root;

    interface Body {
      int run(RingKvClient client) throws InterruptedException;
    }

    int run(String what, Body body) {
      return root.withClient(client -> {
        try {
          return body.run(client);
        } catch (BackupException e) {
          root.err().println("ringctl: " + what + " failed: " + e.getMessage());
          return RingCtl.EXIT_ERROR;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          root.err().println("ringctl: " + what + " interrupted");
          return RingCtl.EXIT_ERROR;
        }
      });
    }

    void progress(String line) {
      if (!root.json()) {
        root.err().println(line);
      }
    }
  }

  @Command(
      name = "backup",
      description =
          "Writes an online, consistent backup of every partition into DIR (files with SHA-256"
              + " checksums, manifest last).")
  static final class Backup extends BackupCommand {
    @Option(
        names = "--to",
        required = true,
        paramLabel = "DIR",
        description = "new or empty directory")
    Path directory;

    @Option(
        names = "--bytes-per-second-max",
        defaultValue = "0",
        description = "pace of reading the exports, 0 = unpaced (default: ${DEFAULT-VALUE})")
    long bytesPerSecondMax;

    @Override
    public Integer call() {
      return run(
          "backup",
          client -> {
            BackupWriter.Summary summary =
                new BackupWriter(
                        client, directory, bytesPerSecondMax, System::nanoTime, this::progress)
                    .run();
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("directory", directory.toString());
            json.put("cluster_id", summary.clusterId());
            json.put("partitions", summary.partitionCount());
            json.put("keys", summary.keyCount());
            json.put("bytes", summary.bytes());
            json.put("millis", summary.elapsedMillis());
            root.out()
                .println(
                    root.json()
                        ? Json.write(json)
                        : String.format(
                            "backup of %d partitions, %d keys, %d bytes written to %s in %d ms",
                            summary.partitionCount(),
                            summary.keyCount(),
                            summary.bytes(),
                            directory,
                            summary.elapsedMillis()));
            return RingCtl.EXIT_OK;
          });
    }
  }

  @Command(
      name = "restore",
      description =
          "Verifies the backup in DIR, then writes it into an empty cluster (any node count or"
              + " partition count; keys get new revisions).")
  static final class Restore extends BackupCommand {
    @Option(names = "--from", required = true, paramLabel = "DIR", description = "backup directory")
    Path directory;

    @Override
    public Integer call() {
      return run(
          "restore",
          client -> {
            Restorer.Summary summary =
                new Restorer(client, directory, System::nanoTime, this::progress).run();
            root.out()
                .println(
                    root.json()
                        ? Json.write(
                            Map.of("keys", summary.keyCount(), "millis", summary.elapsedMillis()))
                        : String.format(
                            "restored %d keys from %s in %d ms",
                            summary.keyCount(), directory, summary.elapsedMillis()));
            return RingCtl.EXIT_OK;
          });
    }
  }
}
