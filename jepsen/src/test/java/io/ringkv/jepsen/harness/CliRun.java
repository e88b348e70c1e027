package io.ringkv.jepsen.harness;

import io.ringkv.jepsen.cli.RingkvJepsen;
import java.io.PrintWriter;
import java.io.StringWriter;

/** One {@code ringkv-jepsen} command run in-process: its exit status and all it printed. */
record CliRun(int status, String printed) {
  static CliRun of(String... arguments) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status =
        RingkvJepsen.commandLine(new PrintWriter(out, true), new PrintWriter(err, true))
            .execute(arguments);
    return new CliRun(status, out + "\n" + err);
  }
}
