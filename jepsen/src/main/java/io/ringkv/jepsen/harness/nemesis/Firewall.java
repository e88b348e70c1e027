package io.ringkv.jepsen.harness.nemesis;

import io.ringkv.jepsen.Invariants;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Cuts links between loopback addresses with {@code iptables} DROP rules in the INPUT chain, each
 * tagged {@code -m comment --comment ringkv-jepsen-<run id>}. Every rule this firewall adds is
 * remembered, and {@link #healAll()} deletes exactly those (same spec, {@code -D}); rules of a
 * crashed run are found by their comment alone ({@link #removeRulesOf}). Nothing else in the tables
 * is ever touched.
 */
public final class Firewall implements AutoCloseable {
  /** The comment prefix every rule of the suite carries. */
  public static final String COMMENT_PREFIX = "ringkv-jepsen-";

  private static final Pattern RUN_ID = Pattern.compile("[A-Za-z0-9_.-]{1,40}");
  private static final long COMMAND_TIMEOUT_SECONDS = 30;

  /** iptables waits up to this long for the xtables lock (other users may hold it). */
  private static final String LOCK_WAIT_SECONDS = "10";

  private final String comment;
  private final List<List<String>> added = new ArrayList<>();
  private Thread shutdownHook;

  /** A firewall for run {@code runId} (letters, digits, {@code _.-}). */
  public Firewall(String runId) {
    this.comment = commentOf(runId);
  }

  /** The comment of run {@code runId}'s rules. */
  public static String commentOf(String runId) {
    if (!RUN_ID.matcher(runId).matches()) {
      throw new IllegalArgumentException("a run id is 1-40 of [A-Za-z0-9_.-], not '" + runId + "'");
    }
    return COMMENT_PREFIX + runId;
  }

  public String comment() {
    return comment;
  }

  /** Whether iptables can be used here: we are root and the command runs. */
  public static boolean available() {
    if (!"root".equals(System.getProperty("user.name"))) {
      return false;
    }
    try {
      run(List.of("iptables", "-w", LOCK_WAIT_SECONDS, "-S", "INPUT"));
      return true;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Drops every packet from {@code source} to {@code destination} (one direction). */
  public synchronized void drop(String source, String destination)
      throws IOException, InterruptedException {
    List<String> spec =
        List.of(
            "INPUT",
            "-s",
            source,
            "-d",
            destination,
            "-m",
            "comment",
            "--comment",
            comment,
            "-j",
            "DROP");
    List<String> command = new ArrayList<>(List.of("iptables", "-w", LOCK_WAIT_SECONDS, "-I"));
    command.addAll(spec);
    run(command);
    added.add(spec);
  }

  /** Drops traffic both ways between {@code a} and {@code b}. */
  public void cut(String a, String b) throws IOException, InterruptedException {
    drop(a, b);
    drop(b, a);
  }

  /** How many rules this firewall has in place. */
  public synchronized int ruleCount() {
    return added.size();
  }

  /** Deletes every rule this firewall added, newest first; the first failure is rethrown. */
  public synchronized void healAll() throws IOException, InterruptedException {
    IOException failure = null;
    while (!added.isEmpty()) {
      List<String> spec = added.removeLast();
      List<String> command = new ArrayList<>(List.of("iptables", "-w", LOCK_WAIT_SECONDS, "-D"));
      command.addAll(spec);
      try {
        run(command);
      } catch (IOException e) {
        if (failure == null) {
          failure = e;
        }
      }
    }
    Invariants.check(added.isEmpty(), "rules left after healing: %s", added);
    if (failure != null) {
      throw failure;
    }
  }

  /**
   * Also heals when the JVM exits early (Ctrl-C), so an interrupted run leaves no rules behind;
   * {@link #close()} deregisters the hook.
   */
  public synchronized Firewall healOnShutdown() {
    if (shutdownHook == null) {
      shutdownHook = new Thread(this::healQuietly, "ringkv-jepsen-heal-network");
      Runtime.getRuntime().addShutdownHook(shutdownHook);
    }
    return this;
  }

  private void healQuietly() {
    try {
      healAll();
    } catch (IOException e) {
      System.err.println("ringkv-jepsen: could not heal the network: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Heals every rule this firewall added and drops its shutdown hook, if any. */
  @Override
  public void close() throws IOException, InterruptedException {
    healAll();
    synchronized (this) {
      if (shutdownHook != null) {
        try {
          Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException alreadyShuttingDown) {
          // the hook is running; it heals the same rules
        }
        shutdownHook = null;
      }
    }
  }

  /** The rules in the INPUT chain carrying run {@code runId}'s comment, as {@code -S} lines. */
  public static List<String> rulesOf(String runId) throws IOException, InterruptedException {
    String wanted = "--comment " + commentOf(runId);
    List<String> rules = new ArrayList<>();
    for (String line :
        run(List.of("iptables", "-w", LOCK_WAIT_SECONDS, "-S", "INPUT")).split("\n")) {
      if (line.startsWith("-A INPUT ") && (line.endsWith(wanted) || line.contains(wanted + " "))) {
        rules.add(line);
      }
    }
    return rules;
  }

  /** Deletes every rule carrying run {@code runId}'s comment (leftovers of a crashed run). */
  public static int removeRulesOf(String runId) throws IOException, InterruptedException {
    List<String> rules = rulesOf(runId);
    for (String rule : rules) {
      List<String> command = new ArrayList<>(List.of("iptables", "-w", LOCK_WAIT_SECONDS, "-D"));
      // "-A INPUT -s ... --comment ringkv-jepsen-x -j DROP": our comments hold no spaces.
      command.addAll(Arrays.asList(rule.substring("-A ".length()).split(" ")));
      run(command);
    }
    return rules.size();
  }

  private static String run(List<String> command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IOException(String.join(" ", command) + " did not finish");
    }
    if (process.exitValue() != 0) {
      throw new IOException(
          String.join(" ", command) + " failed (" + process.exitValue() + "): " + output.strip());
    }
    return output;
  }
}
