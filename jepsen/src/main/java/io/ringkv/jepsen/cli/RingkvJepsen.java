package io.ringkv.jepsen.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code ringkv-jepsen} command line. Subcommands: {@code check} (check a recorded history) and
 * {@code timings} (time the checker on reference histories) and {@code test} (start a local
 * cluster, run a workload under a nemesis, check and report).
 */
@Command(
    name = "ringkv-jepsen",
    mixinStandardHelpOptions = true,
    version = "ringkv-jepsen 0.1.0",
    description = "ringkv's Jepsen-style suite.",
    subcommands = {
      CheckCommand.class,
      TimingsCommand.class,
      io.ringkv.jepsen.harness.TestCommand.class,
      CommandLine.HelpCommand.class
    })
public final class RingkvJepsen implements Runnable {
  /** Exit status of a history that is linearizable. */
  public static final int EXIT_VALID = 0;

  /** Exit status of a history that is not linearizable. */
  public static final int EXIT_INVALID = 1;

  /** Exit status when the verdict is unknown, or the input cannot be read or used. */
  public static final int EXIT_UNKNOWN_OR_UNREADABLE = 2;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getErr());
  }

  /** The command line with ringkv's exit codes, writing to {@code out} and {@code err}. */
  public static CommandLine commandLine(PrintWriter out, PrintWriter err) {
    CommandLine commandLine = new CommandLine(new RingkvJepsen());
    commandLine.setOut(out);
    commandLine.setErr(err);
    commandLine.setExitCodeExceptionMapper(exception -> EXIT_UNKNOWN_OR_UNREADABLE);
    commandLine.setExecutionExceptionHandler((exception, failed, parseResult) -> {
      failed.getErr().println("ringkv-jepsen: " + exception.getMessage());
      return EXIT_UNKNOWN_OR_UNREADABLE;
    });
    return commandLine;
  }

  public static void main(String[] args) {
    PrintWriter out = new PrintWriter(System.out, true);
    PrintWriter err = new PrintWriter(System.err, true);
    int status = commandLine(out, err).execute(args);
    out.flush();
    err.flush();
    System.exit(status);
  }
}
