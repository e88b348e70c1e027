package io.ringkv.raft;

import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * Settings of one Raft core, validated when built. Times are counted in ticks: the core has no
 * clock, the application calls {@link RawNode#tick()} at its own pace.
 *
 * @param id this member's id, at least 1
 * @param electionTimeoutTicks ticks without hearing a leader before a follower campaigns; the
 *     actual timeout is drawn uniformly from {@code [electionTimeoutTicks, 2 *
 *     electionTimeoutTicks)} to avoid split votes
 * @param heartbeatTimeoutTicks ticks between two heartbeats of a leader; must be below the election
 *     timeout
 * @param appliedIndex the last index the application has already applied (after a restart);
 *     committed entries up to it are not handed out again
 * @param maxSizeBytesPerAppend the most entry bytes in one append message (at least one entry is
 *     always sent)
 * @param maxInflightMessages how many append messages may be in flight to one follower
 * @param maxInflightBytes how many entry bytes may be in flight to one follower (0 = no limit)
 * @param maxUncommittedEntriesBytes the most bytes of entries a leader holds uncommitted; a
 *     proposal beyond it is rejected (0 = no limit)
 * @param maxCommittedSizeBytesPerReady the most entry bytes handed out to apply in one Ready
 * @param preVote whether candidates first run a pre-election that does not bump terms
 * @param checkQuorum whether a leader steps down when it has not heard from a quorum within an
 *     election timeout (and followers ignore vote requests while they trust a live leader)
 * @param readOnlyMode how ReadIndex requests are confirmed
 * @param disableProposalForwarding whether followers drop proposals instead of forwarding them to
 *     the leader
 * @param unsafeTestingModes deliberately broken behaviours, only for tests that prove the
 *     simulation finds bugs; refused unless {@code unsafeTestingModesAllowed}
 * @param unsafeTestingModesAllowed set only by tests, through {@link
 *     Builder#allowUnsafeTestingModes()}
 */
public record Config(
    long id,
    int electionTimeoutTicks,
    int heartbeatTimeoutTicks,
    long appliedIndex,
    long maxSizeBytesPerAppend,
    int maxInflightMessages,
    long maxInflightBytes,
    long maxUncommittedEntriesBytes,
    long maxCommittedSizeBytesPerReady,
    boolean preVote,
    boolean checkQuorum,
    ReadOnlyMode readOnlyMode,
    boolean disableProposalForwarding,
    Set<UnsafeTestingMode> unsafeTestingModes,
    boolean unsafeTestingModesAllowed) {

  /** How a leader confirms it may serve a read at its commit index. */
  public enum ReadOnlyMode {
    /** A heartbeat round acknowledged by a quorum after the request arrived (always safe). */
    SAFE,
    /**
     * Serve from a leader lease: a quorum acknowledged a heartbeat sent less than an election
     * timeout ago, and with CheckQuorum none of them helps elect another leader within an election
     * timeout of hearing from this one. No extra round trip, but only safe while no member ticks
     * more than {@code Raft.LEASE_TICK_DRIFT_PERCENT_MAX} (10 %) faster than another; the lease
     * lasts (electionTimeoutTicks - 1) / 1.1 ticks (8 of 10). Without a current lease the leader
     * falls back to SAFE.
     */
    LEASE_BASED
  }

  public Config {
    Invariants.check(readOnlyMode != null, "readOnlyMode must not be null");
    unsafeTestingModes = Set.copyOf(unsafeTestingModes);
    require(
        unsafeTestingModes.isEmpty() || unsafeTestingModesAllowed,
        "unsafe testing modes "
            + unsafeTestingModes
            + " break Raft's safety and are refused outside tests");
    require(id >= 1, "id must be >= 1, got " + id);
    require(heartbeatTimeoutTicks >= 1, "heartbeatTimeoutTicks must be >= 1");
    require(
        electionTimeoutTicks > heartbeatTimeoutTicks,
        "electionTimeoutTicks ("
            + electionTimeoutTicks
            + ") must be greater than heartbeatTimeoutTicks ("
            + heartbeatTimeoutTicks
            + ")");
    require(appliedIndex >= 0, "appliedIndex must be >= 0");
    require(maxSizeBytesPerAppend >= 1, "maxSizeBytesPerAppend must be >= 1");
    require(maxInflightMessages >= 1, "maxInflightMessages must be >= 1");
    require(maxInflightBytes >= 0, "maxInflightBytes must be >= 0 (0 = unlimited)");
    require(
        maxInflightBytes == 0 || maxInflightBytes >= maxSizeBytesPerAppend,
        "maxInflightBytes must be 0 or >= maxSizeBytesPerAppend");
    require(maxUncommittedEntriesBytes >= 0, "maxUncommittedEntriesBytes must be >= 0");
    require(maxCommittedSizeBytesPerReady >= 1, "maxCommittedSizeBytesPerReady must be >= 1");
    require(
        readOnlyMode != ReadOnlyMode.LEASE_BASED || checkQuorum,
        "readOnlyMode LEASE_BASED requires checkQuorum: without it a deposed leader could keep"
            + " serving reads from its lease");
  }

  private static void require(boolean condition, String message) {
    if (!condition) {
      throw new IllegalArgumentException(message);
    }
  }

  /** This configuration for a restart after the application applied up to {@code index}. */
  public Config withAppliedIndex(long index) {
    return new Config(
        id,
        electionTimeoutTicks,
        heartbeatTimeoutTicks,
        index,
        maxSizeBytesPerAppend,
        maxInflightMessages,
        maxInflightBytes,
        maxUncommittedEntriesBytes,
        maxCommittedSizeBytesPerReady,
        preVote,
        checkQuorum,
        readOnlyMode,
        disableProposalForwarding,
        unsafeTestingModes,
        unsafeTestingModesAllowed);
  }

  public boolean unsafe(UnsafeTestingMode mode) {
    return unsafeTestingModes.contains(mode);
  }

  public static Builder builder(long id) {
    return new Builder(id);
  }

  /** Builder with production defaults: PreVote and CheckQuorum on, safe reads. */
  public static final class Builder {
    private final long id;
    private int electionTimeoutTicks = 10;
    private int heartbeatTimeoutTicks = 1;
    private long appliedIndex;
    private long maxSizeBytesPerAppend = 1 << 20;
    private int maxInflightMessages = 256;
    private long maxInflightBytes;
    private long maxUncommittedEntriesBytes = 64L << 20;
    private long maxCommittedSizeBytesPerReady = 64L << 20;
    private boolean preVote = true;
    private boolean checkQuorum = true;
    private ReadOnlyMode readOnlyMode = ReadOnlyMode.SAFE;
    private boolean disableProposalForwarding;
    private final Set<UnsafeTestingMode> unsafeTestingModes =
        EnumSet.noneOf(UnsafeTestingMode.class);
    private boolean allowUnsafeTestingModes;

    private Builder(long id) {
      this.id = id;
    }

    public Builder electionTimeoutTicks(int ticks) {
      this.electionTimeoutTicks = ticks;
      return this;
    }

    public Builder heartbeatTimeoutTicks(int ticks) {
      this.heartbeatTimeoutTicks = ticks;
      return this;
    }

    public Builder appliedIndex(long index) {
      this.appliedIndex = index;
      return this;
    }

    public Builder maxSizeBytesPerAppend(long bytes) {
      this.maxSizeBytesPerAppend = bytes;
      return this;
    }

    public Builder maxInflightMessages(int count) {
      this.maxInflightMessages = count;
      return this;
    }

    public Builder maxInflightBytes(long bytes) {
      this.maxInflightBytes = bytes;
      return this;
    }

    public Builder maxUncommittedEntriesBytes(long bytes) {
      this.maxUncommittedEntriesBytes = bytes;
      return this;
    }

    public Builder maxCommittedSizeBytesPerReady(long bytes) {
      this.maxCommittedSizeBytesPerReady = bytes;
      return this;
    }

    public Builder preVote(boolean enabled) {
      this.preVote = enabled;
      return this;
    }

    public Builder checkQuorum(boolean enabled) {
      this.checkQuorum = enabled;
      return this;
    }

    public Builder readOnlyMode(ReadOnlyMode mode) {
      this.readOnlyMode = Objects.requireNonNull(mode);
      return this;
    }

    public Builder disableProposalForwarding(boolean disabled) {
      this.disableProposalForwarding = disabled;
      return this;
    }

    /** Adds a deliberately broken behaviour; {@link #build()} refuses it unless allowed. */
    public Builder unsafeTestingMode(UnsafeTestingMode mode) {
      this.unsafeTestingModes.add(Objects.requireNonNull(mode));
      return this;
    }

    /** Only tests that prove the simulation catches bugs call this. */
    public Builder allowUnsafeTestingModes() {
      this.allowUnsafeTestingModes = true;
      return this;
    }

    public Config build() {
      return new Config(
          id,
          electionTimeoutTicks,
          heartbeatTimeoutTicks,
          appliedIndex,
          maxSizeBytesPerAppend,
          maxInflightMessages,
          maxInflightBytes,
          maxUncommittedEntriesBytes,
          maxCommittedSizeBytesPerReady,
          preVote,
          checkQuorum,
          readOnlyMode,
          disableProposalForwarding,
          unsafeTestingModes,
          allowUnsafeTestingModes);
    }
  }
}
