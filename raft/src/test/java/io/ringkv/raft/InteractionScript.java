package io.ringkv.raft;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * Runs the steps of a golden interaction file against a group of {@link TestMember}s and prints
 * what each step did: every Ready a member handled (hard state, entries, messages, committed
 * entries, read states) and every message delivered. Nothing moves unless a step says so: messages
 * wait in the receiver's inbox until {@code deliver-msgs} or {@code stabilize}, time moves only by
 * {@code tick-election} and {@code tick-heartbeat}, so the printed output is the exact interaction.
 *
 * <p>Steps (ids are member ids; a step without ids acts on every member that is not paused):
 *
 * <pre>
 * add-nodes N [pre-vote=B] [check-quorum=B] [read-only=safe|lease] [inflight-max=N]
 * add-spare ID                     a member outside the configuration, with an empty log
 * campaign ID | propose ID VALUE | read-index ID CONTEXT | transfer-leader ID TARGET
 * propose-conf-change ID [auto|joint|joint-explicit] [vID | lID | rID]...   (none: leave joint)
 * tick-election ID | tick-heartbeat ID
 * process-ready [ID...] | deliver-msgs [ID...] | drop-msgs ID... | stabilize [ID...]
 * pause ID | resume ID             a paused member takes no part in steps without ids
 * status ID | raft-log ID
 * </pre>
 */
final class InteractionScript {
  private static final int ELECTION_TIMEOUT_TICKS = 10;
  private static final int HEARTBEAT_TIMEOUT_TICKS = 1;
  private static final int STABILIZE_ROUNDS_MAX = 1_000;

  private final TreeMap<Long, TestMember> members = new TreeMap<>();
  private final Map<Long, ArrayDeque<Message>> inboxes = new TreeMap<>();
  private final TreeSet<Long> paused = new TreeSet<>();
  private boolean preVote = true;
  private boolean checkQuorum = true;
  private Config.ReadOnlyMode readOnly = Config.ReadOnlyMode.SAFE;
  private int inflightMessagesMax = 256;
  private final List<String> out = new ArrayList<>();

  /** Runs one step and returns what it printed, one line per element. */
  List<String> run(String step) {
    out.clear();
    String[] words = step.trim().split("\\s+");
    List<String> args = List.of(words).subList(1, words.length);
    try {
      dispatch(words[0], args);
    } catch (ProposalDroppedException dropped) {
      print("dropped: %s", dropped.reason());
    }
    return List.copyOf(out);
  }

  private void dispatch(String command, List<String> args) {
    switch (command) {
      case "add-nodes" -> addNodes(args);
      case "add-spare" -> addMember(number(args, 0), new MemoryRaftStorage(ConfState.EMPTY));
      case "campaign" -> node(args, 0).campaign();
      case "propose" -> node(args, 0).propose(TestMember.encodeWrite(number(args, 1)));
      case "propose-conf-change" -> node(args, 0).proposeConfChange(confChange(args));
      case "read-index" -> node(args, 0).readIndex(args.get(1).getBytes(StandardCharsets.UTF_8));
      case "transfer-leader" -> node(args, 0).transferLeader(id(args, 1));
      case "tick-election" -> tickElection(id(args, 0));
      case "tick-heartbeat" -> tickTimes(id(args, 0), HEARTBEAT_TIMEOUT_TICKS);
      case "process-ready" -> selected(args).forEach(this::processReady);
      case "deliver-msgs" -> selected(args).forEach(this::deliver);
      case "drop-msgs" -> selected(args).forEach(this::drop);
      case "stabilize" -> stabilize(selected(args));
      case "pause" -> paused.add(id(args, 0));
      case "resume" -> paused.remove(id(args, 0));
      case "status" -> printStatus(id(args, 0));
      case "raft-log" -> printLog(id(args, 0));
      default -> throw new IllegalArgumentException("unknown step " + command);
    }
  }

  // ---------------------------------------------------------------- setup

  private Config config(long id) {
    return Config.builder(id)
        .electionTimeoutTicks(ELECTION_TIMEOUT_TICKS)
        .heartbeatTimeoutTicks(HEARTBEAT_TIMEOUT_TICKS)
        .preVote(preVote)
        .checkQuorum(checkQuorum)
        .readOnlyMode(readOnly)
        .maxInflightMessages(inflightMessagesMax)
        .build();
  }

  private void addNodes(List<String> args) {
    int count = Integer.parseInt(args.get(0));
    Map<String, String> options = new TreeMap<>();
    for (String option : args.subList(1, args.size())) {
      String[] pair = option.split("=", 2);
      options.put(pair[0], pair[1]);
    }
    preVote = Boolean.parseBoolean(options.getOrDefault("pre-vote", "true"));
    checkQuorum = Boolean.parseBoolean(options.getOrDefault("check-quorum", "true"));
    readOnly =
        "lease".equals(options.get("read-only"))
            ? Config.ReadOnlyMode.LEASE_BASED
            : Config.ReadOnlyMode.SAFE;
    inflightMessagesMax = Integer.parseInt(options.getOrDefault("inflight-max", "256"));
    TreeSet<Long> voters = new TreeSet<>();
    for (long id = members.size() + 1; id <= members.size() + count; id++) {
      voters.add(id);
    }
    for (long id : voters) {
      addMember(id, TestMember.bootstrapStorage(ConfState.ofVoters(voters)));
    }
    print(
        "voters=%s pre-vote=%s check-quorum=%s read-only=%s",
        voters, preVote, checkQuorum, readOnly);
  }

  private void addMember(long id, MemoryRaftStorage storage) {
    members.put(id, new TestMember(id, config(id), storage, id * 7919));
    inboxes.put(id, new ArrayDeque<>());
  }

  // ---------------------------------------------------------------- time

  /** Ticks until the member's election timer fires (at most twice the base timeout). */
  private void tickElection(long id) {
    Raft raft = members.get(id).node.raft();
    for (int tick = 1; tick <= 2 * ELECTION_TIMEOUT_TICKS; tick++) {
      raft.tick();
      if (raft.electionElapsedTicks == 0) {
        return;
      }
    }
    print("election timer of %d did not fire", id);
  }

  private void tickTimes(long id, int count) {
    for (int tick = 0; tick < count; tick++) {
      members.get(id).node.tick();
    }
  }

  // ---------------------------------------------------------------- readies and messages

  private boolean processReady(long id) {
    TestMember member = members.get(id);
    boolean handled = false;
    while (member.handleReady(inboxOf(), listener(), ready -> printReady(id, ready))) {
      handled = true;
    }
    return handled;
  }

  private Consumer<Message> inboxOf() {
    return message -> inboxes.get(message.to()).add(message);
  }

  private TestMember.CrashPoint printReady(long id, Ready ready) {
    print("%d handles a Ready:", id);
    ready
        .hardState()
        .ifPresent(state ->
            print(
                "  hard-state term=%d vote=%d commit=%d",
                state.term(), state.vote(), state.commit()));
    if (!ready.snapshot().isEmpty()) {
      SnapshotMetadata metadata = ready.snapshot().metadata();
      print("  snapshot index=%d term=%d", metadata.index(), metadata.term());
    }
    ready.entries().forEach(entry -> print("  entry %s", describe(entry)));
    ready.messages().forEach(message -> print("  send %s", message));
    ready.persistedMessages().forEach(message -> print("  send after persisting %s", message));
    ready.committedEntries().forEach(entry -> print("  apply %s", describe(entry)));
    ready
        .readStates()
        .forEach(
            state -> print("  read-state %s at index %d", text(state.context()), state.index()));
    return TestMember.CrashPoint.NONE;
  }

  private TestMember.ApplyListener listener() {
    return new TestMember.ApplyListener() {
      @Override
      public void applied(TestMember member, Entry entry) {}

      @Override
      public void readServed(TestMember member, ReadState state, long value, long writeIndex) {
        print(
            "  %d serves read %s: value %d (written at %d)",
            member.id, text(state.context()), value, writeIndex);
      }

      @Override
      public void snapshotInstalled(TestMember member, Snapshot snapshot) {
        print("  %d installs snapshot at index %d", member.id, snapshot.metadata().index());
      }
    };
  }

  private boolean deliver(long id) {
    return takeInbox(
        id,
        message -> {
          print("deliver %s", message);
          members.get(id).node.step(message);
          if (message.type() == MessageType.SNAPSHOT) {
            members.get(message.from()).node.reportSnapshot(id, true);
          }
        });
  }

  private boolean drop(long id) {
    return takeInbox(id, message -> print("drop %s", message));
  }

  /**
   * Hands every message waiting for {@code id} to {@code handler}; returns whether there was one.
   */
  private boolean takeInbox(long id, Consumer<Message> handler) {
    ArrayDeque<Message> inbox = inboxes.get(id);
    boolean any = !inbox.isEmpty();
    Message message;
    while ((message = inbox.poll()) != null) {
      handler.accept(message);
    }
    return any;
  }

  /** Handles Readies and delivers messages among {@code ids} until nothing moves. */
  private void stabilize(List<Long> ids) {
    for (int round = 0; round < STABILIZE_ROUNDS_MAX; round++) {
      boolean moved = false;
      for (long id : ids) {
        moved |= processReady(id);
      }
      for (long id : ids) {
        moved |= deliver(id);
      }
      if (!moved) {
        return;
      }
    }
    throw new IllegalStateException("no quiet state after " + STABILIZE_ROUNDS_MAX + " rounds");
  }

  // ---------------------------------------------------------------- printing

  private void printStatus(long id) {
    Raft raft = members.get(id).node.raft();
    Status status = members.get(id).node.status();
    print(
        "%d: %s term=%d vote=%d leader=%d commit=%d applied=%d last=%d",
        id,
        status.role(),
        status.term(),
        status.vote(),
        status.leaderId(),
        status.commitIndex(),
        status.appliedIndex(),
        status.lastIndex());
    ConfState config = status.confState();
    print(
        "  voters=%s%s%s%s",
        config.voters(),
        config.votersOutgoing().isEmpty() ? "" : " outgoing=" + config.votersOutgoing(),
        config.learners().isEmpty() ? "" : " learners=" + config.learners(),
        config.learnersNext().isEmpty() ? "" : " learners-next=" + config.learnersNext());
    if (status.leadTransferee() != 0) {
      print("  transferring to %d", status.leadTransferee());
    }
    if (status.role() == Role.LEADER) {
      raft.tracker.progress.forEach((member, progress) ->
          print(
              "  progress %d: %s match=%d next=%d inflight=%d%s",
              member,
              progress.state,
              progress.match,
              progress.next,
              progress.inflights.count(),
              progress.inflights.full() ? " (full)" : ""));
    }
  }

  private void printLog(long id) {
    MemoryRaftStorage storage = members.get(id).storage;
    List<Entry> entries =
        storage.entries(storage.firstIndex(), storage.lastIndex() + 1, Long.MAX_VALUE);
    print("%d: log %d..%d", id, storage.firstIndex(), storage.lastIndex());
    entries.forEach(entry -> print("  %s", describe(entry)));
  }

  private static String describe(Entry entry) {
    String position = entry.term() + "/" + entry.index();
    if (entry.type() == EntryType.CONF_CHANGE) {
      return position + " conf-change " + describe(ConfChange.decode(entry.data()));
    }
    if (entry.data().length == 0) {
      return position + " empty";
    }
    return position + " value=" + TestMember.decodeWrite(entry.data());
  }

  private static String describe(ConfChange change) {
    if (change.isLeaveJoint()) {
      return "leave-joint";
    }
    StringJoiner text = new StringJoiner(" ", change.transition().name().toLowerCase() + " ", "");
    for (ConfChange.Operation operation : change.operations()) {
      String prefix =
          switch (operation.type()) {
            case ADD_VOTER -> "v";
            case ADD_LEARNER -> "l";
            case REMOVE_MEMBER -> "r";
          };
      text.add(prefix + operation.memberId());
    }
    return text.toString();
  }

  private static String text(byte[] context) {
    return new String(context, StandardCharsets.UTF_8);
  }

  private void print(String format, Object... args) {
    out.add(String.format(format, args));
  }

  // ---------------------------------------------------------------- arguments

  private static ConfChange confChange(List<String> args) {
    ConfChange.Transition transition = ConfChange.Transition.AUTO;
    List<ConfChange.Operation> operations = new ArrayList<>();
    for (String word : args.subList(1, args.size())) {
      switch (word) {
        case "auto" -> transition = ConfChange.Transition.AUTO;
        case "joint" -> transition = ConfChange.Transition.JOINT_IMPLICIT;
        case "joint-explicit" -> transition = ConfChange.Transition.JOINT_EXPLICIT;
        default -> operations.add(operation(word));
      }
    }
    return new ConfChange(transition, operations);
  }

  private static ConfChange.Operation operation(String word) {
    long memberId = Long.parseLong(word.substring(1));
    ConfChange.OperationType type =
        switch (word.charAt(0)) {
          case 'v' -> ConfChange.OperationType.ADD_VOTER;
          case 'l' -> ConfChange.OperationType.ADD_LEARNER;
          case 'r' -> ConfChange.OperationType.REMOVE_MEMBER;
          default -> throw new IllegalArgumentException("unknown conf change operation " + word);
        };
    return new ConfChange.Operation(type, memberId);
  }

  private RawNode node(List<String> args, int position) {
    return members.get(id(args, position)).node;
  }

  private long id(List<String> args, int position) {
    long id = number(args, position);
    if (!members.containsKey(id)) {
      throw new IllegalArgumentException("no member " + id);
    }
    return id;
  }

  private static long number(List<String> args, int position) {
    if (args.size() <= position) {
      throw new IllegalArgumentException("missing argument " + (position + 1));
    }
    return Long.parseLong(args.get(position));
  }

  private List<Long> selected(List<String> args) {
    if (args.isEmpty()) {
      List<Long> active = new ArrayList<>(members.keySet());
      active.removeAll(paused);
      return active;
    }
    List<Long> ids = new ArrayList<>();
    for (int position = 0; position < args.size(); position++) {
      ids.add(id(args, position));
    }
    return ids;
  }
}
