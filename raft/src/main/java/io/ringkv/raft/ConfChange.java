package io.ringkv.raft;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A membership change: zero or more operations and how to carry them out. An empty change leaves a
 * joint configuration. Encoded into the data of a {@link EntryType#CONF_CHANGE} entry.
 *
 * @param transition simple or joint, see {@link Transition}
 * @param operations what to change, applied in order
 */
public record ConfChange(Transition transition, List<Operation> operations) {

  /** How the change is carried out. */
  public enum Transition {
    /**
     * A single-voter change is applied directly; anything bigger uses joint consensus, left
     * automatically.
     */
    AUTO,
    /** Joint consensus, and the leader leaves the joint configuration by itself. */
    JOINT_IMPLICIT,
    /** Joint consensus, left only by an explicit empty change. */
    JOINT_EXPLICIT
  }

  public enum OperationType {
    ADD_VOTER,
    ADD_LEARNER,
    REMOVE_MEMBER
  }

  public record Operation(OperationType type, long memberId) {
    public Operation {
      Invariants.check(type != null, "operation type must not be null");
      if (memberId < 1) {
        throw new IllegalArgumentException("member id must be >= 1, got " + memberId);
      }
    }
  }

  private static final byte FORMAT_VERSION = 1;
  private static final int HEADER_SIZE_BYTES = 1 + 1 + 4;
  private static final int OPERATION_SIZE_BYTES = 1 + 8;

  public ConfChange {
    Invariants.check(transition != null, "transition must not be null");
    operations = List.copyOf(operations);
  }

  public static ConfChange addVoter(long memberId) {
    return new ConfChange(
        Transition.AUTO, List.of(new Operation(OperationType.ADD_VOTER, memberId)));
  }

  public static ConfChange addLearner(long memberId) {
    return new ConfChange(
        Transition.AUTO, List.of(new Operation(OperationType.ADD_LEARNER, memberId)));
  }

  public static ConfChange removeMember(long memberId) {
    return new ConfChange(
        Transition.AUTO, List.of(new Operation(OperationType.REMOVE_MEMBER, memberId)));
  }

  /** The change that leaves a joint configuration. */
  public static ConfChange leaveJoint() {
    return new ConfChange(Transition.AUTO, List.of());
  }

  public boolean isLeaveJoint() {
    return operations.isEmpty();
  }

  /**
   * Whether applying this change enters a joint configuration, and whether it leaves it by itself.
   */
  boolean entersJoint(ConfState current) {
    if (operations.isEmpty()) {
      return false;
    }
    return transition != Transition.AUTO || votersChanged(current) > 1;
  }

  boolean autoLeave() {
    return transition != Transition.JOINT_EXPLICIT;
  }

  private int votersChanged(ConfState current) {
    // Counts voters added or removed, the measure that decides simple vs joint.
    java.util.Set<Long> voters = new java.util.TreeSet<>(current.voters());
    for (Operation operation : operations) {
      if (operation.type() == OperationType.ADD_VOTER) {
        voters.add(operation.memberId());
      } else {
        voters.remove(operation.memberId());
      }
    }
    int changed = 0;
    for (long voter : voters) {
      if (!current.voters().contains(voter)) {
        changed++;
      }
    }
    for (long voter : current.voters()) {
      if (!voters.contains(voter)) {
        changed++;
      }
    }
    return changed;
  }

  public byte[] encode() {
    ByteBuffer buffer =
        ByteBuffer.allocate(HEADER_SIZE_BYTES + operations.size() * OPERATION_SIZE_BYTES);
    buffer.put(FORMAT_VERSION).put((byte) transition.ordinal()).putInt(operations.size());
    for (Operation operation : operations) {
      buffer.put((byte) operation.type().ordinal()).putLong(operation.memberId());
    }
    return buffer.array();
  }

  /**
   * Decodes {@link #encode()}'s output.
   *
   * @throws IllegalArgumentException if the data is not a conf change of a known format
   */
  public static ConfChange decode(byte[] data) {
    if (data.length < HEADER_SIZE_BYTES) {
      throw new IllegalArgumentException("conf change of " + data.length + " bytes is truncated");
    }
    ByteBuffer buffer = ByteBuffer.wrap(data);
    byte version = buffer.get();
    if (version != FORMAT_VERSION) {
      throw new IllegalArgumentException("unknown conf change format " + version);
    }
    Transition transition = Transition.values()[codeIn(buffer.get(), Transition.values().length)];
    int count = buffer.getInt();
    if (count < 0 || (long) count * OPERATION_SIZE_BYTES != buffer.remaining()) {
      throw new IllegalArgumentException("corrupt conf change: " + count + " operations");
    }
    List<Operation> operations = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      OperationType type =
          OperationType.values()[codeIn(buffer.get(), OperationType.values().length)];
      operations.add(new Operation(type, buffer.getLong()));
    }
    return new ConfChange(transition, operations);
  }

  private static int codeIn(byte code, int count) {
    if (code < 0 || code >= count) {
      throw new IllegalArgumentException("corrupt conf change: unknown code " + code);
    }
    return code;
  }
}
