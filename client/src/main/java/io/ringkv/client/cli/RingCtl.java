package io.ringkv.client.cli;

import io.ringkv.client.BlockingRingKvClient;
import io.ringkv.client.Consistency;
import io.ringkv.client.DeleteResult;
import io.ringkv.client.Entry;
import io.ringkv.client.PutResult;
import io.ringkv.client.RingKvClient;
import io.ringkv.client.RingKvException;
import io.ringkv.client.ScanQuery;
import io.ringkv.client.UnsupportedByServerException;
import io.ringkv.proto.v1.TransferLeaderResponse;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code ringctl}: the ringkv command line. Exit status 0 when the command did what was asked, 1
 * when a key was not found or a compare failed, 2 on any error (message on stderr).
 */
@Command(
    name = "ringctl",
    mixinStandardHelpOptions = true,
    description = "Reads and writes ringkv keys and inspects a ringkv cluster.",
    subcommands = {
      RingCtl.Put.class,
      RingCtl.Get.class,
      RingCtl.Del.class,
      RingCtl.Cas.class,
      RingCtl.Scan.class,
      WatchCommand.class,
      ClusterCommands.class,
      AuthCommands.class,
      RingCtl.Leader.class,
      BackupCommands.Backup.class,
      BackupCommands.Restore.class
    })
public final class RingCtl implements Callable<Integer> {
  static final int EXIT_OK = 0;
  static final int EXIT_NOT_FOUND = 1;
  static final int EXIT_ERROR = 2;
  static final String DEFAULT_ENDPOINTS = "127.0.0.11:7379,127.0.0.12:7379,127.0.0.13:7379";

  enum Output {
    table,
    json
  }

  @Option(
      names = "--endpoints",
      split = ",",
      description = "nodes to contact, host:port,... (default: ${DEFAULT-VALUE})",
      defaultValue = DEFAULT_ENDPOINTS)
  List<String> endpoints;

  @Option(
      names = "--output",
      description = "table or json (default: ${DEFAULT-VALUE})",
      defaultValue = "table")
  Output output;

  @Option(
      names = "--timeout-ms",
      description = "deadline of each request, retries included (default: ${DEFAULT-VALUE})",
      defaultValue = "5000")
  long timeoutMillis;

  @Option(
      names = "--cacert",
      description =
          "speak TLS and trust node certificates signed by this CA (PEM file; default: plaintext)")
  java.nio.file.Path caCertFile;

  @Option(
      names = "--cert",
      description = "client certificate (PEM) for nodes that ask for one; needs --cacert and --key")
  java.nio.file.Path certFile;

  @Option(names = "--key", description = "private key of --cert (PEM, PKCS#8)")
  java.nio.file.Path keyFile;

  @Option(
      names = "--token",
      description = "bearer token for a cluster with auth on (default: the RINGKV_TOKEN variable)",
      defaultValue = "${env:RINGKV_TOKEN}")
  String token;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getErr());
    return EXIT_ERROR;
  }

  RingKvClient connect() {
    RingKvClient.Builder builder = RingKvClient.builder();
    if (caCertFile != null) {
      builder.tls(caCertFile);
    }
    if (certFile != null || keyFile != null) {
      builder.tlsClientCertificate(certFile, keyFile);
    }
    if (token != null && !token.isEmpty()) {
      builder.token(token);
    }
    return builder
        .endpoints(endpoints)
        .deadline(Duration.ofMillis(timeoutMillis))
        .attemptTimeout(Duration.ofMillis(Math.min(timeoutMillis, 2000)))
        .mapRefreshTimeout(Duration.ofMillis(Math.min(timeoutMillis, 2000)))
        .build();
  }

  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  PrintWriter err() {
    return spec.commandLine().getErr();
  }

  boolean json() {
    return output == Output.json;
  }

  /** Runs {@code body} with a client, turning client failures into a message and exit 2. */
  int withClient(ClientBody body) {
    try (RingKvClient client = connect()) {
      return body.run(client);
    } catch (UnsupportedByServerException e) {
      err()
          .println(
              "ringctl: "
                  + e.getMessage()
                  + "; the nodes do not offer this service yet (UNIMPLEMENTED)");
      return EXIT_ERROR;
    } catch (RingKvException | IllegalArgumentException e) {
      err().println("ringctl: " + e.getMessage());
      return EXIT_ERROR;
    }
  }

  interface ClientBody {
    int run(RingKvClient client);
  }

  static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  static Map<String, Object> entryJson(Entry entry) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("key", entry.keyUtf8());
    json.put("value", entry.valueUtf8());
    json.put("create_revision", entry.createRevision());
    json.put("mod_revision", entry.modRevision());
    json.put("version", entry.version());
    return json;
  }

  @Command(name = "put", description = "Sets KEY to VALUE.")
  static final class Put implements Callable<Integer> {
    @ParentCommand RingCtl root;

    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Parameters(index = "1", paramLabel = "VALUE")
    String value;

    @Override
    public Integer call() {
      return root.withClient(client -> {
        PutResult result = client.blocking().put(key, value);
        root.out()
            .println(
                root.json()
                    ? Json.write(Map.of("revision", result.revision()))
                    : "OK revision " + result.revision());
        return EXIT_OK;
      });
    }
  }

  @Command(name = "get", description = "Prints KEY's value; exit 1 when it does not exist.")
  static final class Get implements Callable<Integer> {
    @ParentCommand RingCtl root;

    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Option(names = "--serializable", description = "read from any replica (may be stale)")
    boolean serializable;

    @Override
    public Integer call() {
      return root.withClient(client -> {
        BlockingRingKvClient blocking = client.blocking();
        Optional<Entry> entry =
            blocking.get(
                utf8(key), serializable ? Consistency.SERIALIZABLE : Consistency.LINEARIZABLE);
        if (entry.isEmpty()) {
          if (root.json()) {
            root.out().println(Json.write(Map.of("key", key, "found", false)));
          }
          root.err().println("ringctl: key '" + key + "' not found");
          return EXIT_NOT_FOUND;
        }
        root.out()
            .println(root.json() ? Json.write(entryJson(entry.get())) : entry.get().valueUtf8());
        return EXIT_OK;
      });
    }
  }

  @Command(name = "del", description = "Deletes KEY; exit 1 when it did not exist.")
  static final class Del implements Callable<Integer> {
    @ParentCommand RingCtl root;

    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Override
    public Integer call() {
      return root.withClient(client -> {
        DeleteResult result = client.blocking().delete(key);
        if (root.json()) {
          root.out()
              .println(
                  Json.write(Map.of("deleted", result.deleted(), "revision", result.revision())));
        } else if (result.deleted()) {
          root.out().println("deleted");
        }
        if (!result.deleted()) {
          root.err().println("ringctl: key '" + key + "' not found");
          return EXIT_NOT_FOUND;
        }
        return EXIT_OK;
      });
    }
  }

  @Command(
      name = "cas",
      description = "Sets KEY to NEW if its value is EXPECTED; exit 1 when it is not.")
  static final class Cas implements Callable<Integer> {
    @ParentCommand RingCtl root;

    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Parameters(index = "1", paramLabel = "EXPECTED")
    String expected;

    @Parameters(index = "2", paramLabel = "NEW")
    String newValue;

    @Override
    public Integer call() {
      return root.withClient(client -> {
        boolean set = client.blocking().compareAndSet(utf8(key), utf8(expected), utf8(newValue));
        if (root.json()) {
          root.out().println(Json.write(Map.of("succeeded", set)));
        } else if (set) {
          root.out().println("OK");
        }
        if (!set) {
          root.err().println("ringctl: compare failed: '" + key + "' is not '" + expected + "'");
          return EXIT_NOT_FOUND;
        }
        return EXIT_OK;
      });
    }
  }

  @Command(name = "scan", description = "Lists keys with a prefix, in key order.")
  static final class Scan implements Callable<Integer> {
    @ParentCommand RingCtl root;

    @Option(names = "--prefix", required = true, description = "key prefix (\"\" for every key)")
    String prefix;

    @Option(
        names = "--limit",
        defaultValue = "1000",
        description = "most keys to list (default: ${DEFAULT-VALUE})")
    int limit;

    @Override
    public Integer call() {
      if (limit < 1) {
        root.err().println("ringctl: --limit must be >= 1, got " + limit);
        return EXIT_ERROR;
      }
      return root.withClient(client -> {
        ScanQuery query = ScanQuery.prefix(utf8(prefix)).withPageSize(Math.min(limit, 500));
        List<Entry> entries;
        try (var stream = client.blocking().scan(query)) {
          entries = stream.limit(limit).toList();
        }
        if (root.json()) {
          root.out().println(Json.write(entries.stream().map(RingCtl::entryJson).toList()));
        } else {
          entries.forEach(e -> root.out().println(e.keyUtf8() + "\t" + e.valueUtf8()));
        }
        return EXIT_OK;
      });
    }
  }

  @Command(
      name = "leader",
      description = "Leadership commands.",
      subcommands = Leader.Transfer.class)
  static final class Leader implements Callable<Integer> {
    @ParentCommand RingCtl root;

    @Override
    public Integer call() {
      root.err().println("ringctl: leader needs a subcommand: transfer PARTITION NODE");
      return EXIT_ERROR;
    }

    @Command(name = "transfer", description = "Moves PARTITION's leadership to node NODE.")
    static final class Transfer implements Callable<Integer> {
      @ParentCommand Leader leader;

      @Parameters(index = "0", paramLabel = "PARTITION")
      int partition;

      @Parameters(index = "1", paramLabel = "NODE")
      long nodeId;

      @Override
      public Integer call() {
        RingCtl root = leader.root;
        return root.withClient(client -> {
          TransferLeaderResponse response =
              BlockingRingKvClient.await(client.cluster().transferLeader(partition, nodeId));
          root.out()
              .println(
                  root.json()
                      ? Json.write(
                          Map.of("leader", response.getLeaderNodeId(), "term", response.getTerm()))
                      : "partition "
                          + partition
                          + " leader is now node "
                          + response.getLeaderNodeId()
                          + " (term "
                          + response.getTerm()
                          + ")");
          return response.getLeaderNodeId() == nodeId ? EXIT_OK : EXIT_ERROR;
        });
      }
    }
  }

  public static int run(PrintWriter out, PrintWriter err, String... args) {
    CommandLine commandLine = new CommandLine(new RingCtl());
    commandLine.setOut(out);
    commandLine.setErr(err);
    commandLine.setCaseInsensitiveEnumValuesAllowed(true);
    commandLine.setExecutionExceptionHandler((exception, line, parseResult) -> {
      line.getErr().println("ringctl: " + exception);
      return EXIT_ERROR;
    });
    commandLine.setParameterExceptionHandler((exception, args2) -> {
      exception.getCommandLine().getErr().println("ringctl: " + exception.getMessage());
      exception.getCommandLine().usage(exception.getCommandLine().getErr());
      return EXIT_ERROR;
    });
    int code = commandLine.execute(args);
    out.flush();
    err.flush();
    return code;
  }

  public static void main(String[] args) {
    PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
    PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
    System.exit(run(out, err, args));
  }
}
