package io.ringkv.raft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * One test (or a few) per feature of the core: PreVote, CheckQuorum, ReadIndex (leader, follower,
 * new leader, partitioned leader), lease reads, leader transfer, learners, joint consensus, flow
 * control limits, and the Ready/advance contract. Each runs a scripted cluster.
 */
class RaftFeaturesTest {

  private static byte[] context(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void preVoteKeepsAnIsolatedFollowerFromInflatingItsTerm() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder.preVote(true));
    cluster.campaign(1);
    long term = cluster.status(1).term();
    cluster.isolate(3);
    cluster.tick(3, 100);
    assertThat(cluster.status(3).term()).isEqualTo(term);
    cluster.heal();
    cluster.tickAll(5);
    assertThat(cluster.leader()).isEqualTo(1);
    assertThat(cluster.status(1).term()).isEqualTo(term);
  }

  @Test
  void withoutPreVoteAnIsolatedFollowerDisruptsTheLeaderOnReturn() {
    ScriptedCluster cluster =
        new ScriptedCluster(3, builder -> builder.preVote(false).checkQuorum(false));
    cluster.campaign(1);
    long term = cluster.status(1).term();
    cluster.isolate(3);
    cluster.tick(3, 100);
    assertThat(cluster.status(3).term()).isGreaterThan(term + 2);
    cluster.heal();
    cluster.tickAll(30);
    assertThat(cluster.status(1).term()).isGreaterThan(term);
  }

  private static ScriptedCluster threeLedByOneWithoutPreVote() {
    ScriptedCluster cluster =
        new ScriptedCluster(3, builder -> builder.preVote(false).checkQuorum(false));
    cluster.campaign(1);
    return cluster;
  }

  @Test
  void refusingAStaleCandidateKeepsTheElectionTimerRunning() {
    ScriptedCluster cluster = threeLedByOneWithoutPreVote();
    cluster.isolate(3);
    cluster.propose(1, 5); // member 3's log is now behind members 1 and 2
    cluster.heal();
    cluster.isolate(1);
    cluster.tick(2, 9); // below every randomized timeout (10 to 19 ticks): no campaign yet
    assertThat(cluster.node(2).raft().electionElapsedTicks).isEqualTo(9);
    cluster.campaign(3);
    assertThat(cluster.status(2).term()).isEqualTo(cluster.status(3).term());
    assertThat(cluster.status(2).vote()).isZero();
    assertThat(cluster.node(2).raft().electionElapsedTicks).isEqualTo(9);
  }

  @Test
  void grantingAVoteRestartsTheElectionTimer() {
    ScriptedCluster cluster = threeLedByOneWithoutPreVote();
    cluster.isolate(1);
    cluster.tick(2, 9);
    cluster.campaign(3);
    assertThat(cluster.status(2).vote()).isEqualTo(3);
    assertThat(cluster.node(2).raft().electionElapsedTicks).isZero();
  }

  @Test
  void aSnapshotIsRefusedWhileCommittedEntriesAreBeingApplied() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder);
    cluster.campaign(1);
    cluster.isolate(2);
    cluster.propose(1, 5);
    cluster.propose(1, 6);
    RaftLog leaderLog = cluster.node(1).raft().log;
    long term = cluster.status(1).term();
    long previous = cluster.status(2).lastIndex();
    long last = leaderLog.lastIndex();
    List<Entry> missing = leaderLog.slice(previous + 1, last + 1, Long.MAX_VALUE);
    RawNode follower = cluster.node(2);
    follower.step(
        Message.append(2, 1, term, leaderLog.termOrZero(previous), previous, missing, last));
    Ready applying = follower.ready(); // a pipelined node applies these while it keeps stepping
    assertThat(applying.committedEntries()).isNotEmpty();
    Snapshot snapshot =
        new Snapshot(
            new SnapshotMetadata(last + 5, term, ConfState.ofVoters(java.util.Set.of(1L, 2L, 3L))),
            new byte[0]);
    follower.step(Message.snapshot(2, 1, term, snapshot));
    assertThat(follower.status().lastIndex()).isEqualTo(last);
    assertThat(follower.status().commitIndex()).isEqualTo(last);
  }

  @Test
  void checkQuorumDeposesALeaderThatCannotHearAQuorum() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder.checkQuorum(true));
    cluster.campaign(1);
    cluster.isolate(1);
    cluster.tick(1, 25); // two election timeouts: the first check still sees old activity
    assertThat(cluster.status(1).role()).isEqualTo(Role.FOLLOWER);
  }

  @Test
  void withoutCheckQuorumAnIsolatedLeaderStaysLeader() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder.checkQuorum(false));
    cluster.campaign(1);
    cluster.isolate(1);
    cluster.tick(1, 50);
    assertThat(cluster.status(1).role()).isEqualTo(Role.LEADER);
  }

  @Test
  void readIndexAtLeaderAndFollowerReturnsTheCommitIndex() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder);
    cluster.campaign(1);
    cluster.propose(1, 5);
    long commit = cluster.status(1).commitIndex();
    cluster.node(1).readIndex(context("at-leader"));
    cluster.stabilize();
    cluster.node(2).readIndex(context("at-follower"));
    cluster.stabilize();
    assertThat(cluster.servedReads).hasSize(2);
    assertThat(cluster.servedReads).allMatch(read -> read.index() == commit);
    assertThat(cluster.servedReadValues).containsExactly(5L, 5L);
  }

  @Test
  void readIndexNeedsAQuorumHeartbeatRound() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder.checkQuorum(false));
    cluster.campaign(1);
    cluster.isolate(1);
    cluster.node(1).readIndex(context("lost"));
    cluster.tick(1, 5);
    assertThat(cluster.servedReads).isEmpty();
    cluster.heal();
    cluster.tick(1, 2); // the next heartbeat carries the pending context
    assertThat(cluster.servedReads).hasSize(1);
  }

  @Test
  void newLeaderServesNoReadBeforeCommittingInItsTerm() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder);
    // Followers acknowledge heartbeats but never see the new leader's entry of its term.
    cluster.dropFilter = message -> message.type() == MessageType.APPEND;
    cluster.campaign(1);
    cluster.node(1).readIndex(context("early"));
    cluster.tick(1, 3);
    assertThat(cluster.servedReads).isEmpty();
    cluster.dropFilter = message -> false;
    cluster.tick(1, 3);
    assertThat(cluster.servedReads).hasSize(1);
    assertThat(cluster.servedReads.get(0).index()).isEqualTo(cluster.status(1).commitIndex());
  }

  @Test
  void leaseReadSkipsTheHeartbeatRoundAndRequiresCheckQuorum() {
    assertThatThrownBy(() ->
            Config.builder(1)
                .checkQuorum(false)
                .readOnlyMode(Config.ReadOnlyMode.LEASE_BASED)
                .build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("requires checkQuorum");
    ScriptedCluster cluster =
        new ScriptedCluster(3, builder -> builder.readOnlyMode(Config.ReadOnlyMode.LEASE_BASED));
    // With leases, members refuse votes for an election timeout after starting: let one elapse.
    cluster.tickAll(30);
    long leader = cluster.leader();
    assertThat(leader).isNotZero();
    cluster.tick(leader, 2); // heartbeats acknowledged: the lease runs from their send tick
    cluster.isolate(leader);
    cluster.node(leader).readIndex(context("lease"));
    cluster.stabilize();
    assertThat(cluster.servedReads).hasSize(1); // served from the lease, no round trip
    cluster.tick(leader, 10); // the lease runs out without acknowledgements
    cluster.node(leader).readIndex(context("expired"));
    cluster.stabilize();
    assertThat(cluster.servedReads).hasSize(1);
  }

  @Test
  void leaderTransferBringsTheTargetUpToDateThenHandsOver() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder);
    cluster.campaign(1);
    long term = cluster.status(1).term();
    cluster.cut(1, 3);
    cluster.propose(1, 1); // 3 lags behind
    cluster.node(1).transferLeader(3);
    cluster.stabilize();
    assertThat(cluster.status(1).leadTransferee()).isEqualTo(3);
    assertThatThrownBy(() -> cluster.node(1).propose(TestMember.encodeWrite(2)))
        .isInstanceOf(ProposalDroppedException.class)
        .extracting(error -> ((ProposalDroppedException) error).reason())
        .isEqualTo(ProposalDroppedException.Reason.LEADER_TRANSFER_IN_PROGRESS);
    cluster.heal();
    cluster.tick(1, 1); // heartbeat response shows 3 lagging: append, catch up, TimeoutNow
    assertThat(cluster.leader()).isEqualTo(3);
    assertThat(cluster.status(3).term()).isEqualTo(term + 1);
    assertThat(cluster.appliedValues(3)).containsExactly(1L);
  }

  @Test
  void leaderTransferToAnUnreachableMemberIsAbandonedAfterAnElectionTimeout() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder.checkQuorum(false));
    cluster.campaign(1);
    cluster.isolate(3);
    cluster.node(1).transferLeader(3);
    cluster.stabilize();
    assertThat(cluster.status(1).leadTransferee()).isEqualTo(3);
    cluster.tick(1, 10);
    assertThat(cluster.status(1).leadTransferee()).isZero();
    assertThat(cluster.leader()).isEqualTo(1);
    cluster.propose(1, 9);
    assertThat(cluster.appliedValues(2)).containsExactly(9L);
  }

  /** Voters 1-3 led by 1, and member 4 added as a learner. */
  private static ScriptedCluster clusterWithLearner4() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder);
    cluster.addSpare(4, builder -> builder);
    cluster.campaign(1);
    cluster.node(1).proposeConfChange(ConfChange.addLearner(4));
    cluster.stabilize();
    cluster.tickAll(3);
    return cluster;
  }

  @Test
  void learnerReceivesTheLogButNeitherVotesNorCampaigns() {
    ScriptedCluster cluster = clusterWithLearner4();
    cluster.propose(1, 11);
    cluster.tickAll(3);
    assertThat(cluster.status(1).confState().learners()).containsExactly(4L);
    assertThat(cluster.appliedValues(4)).containsExactly(11L);
    // Commit does not wait for the learner, and the learner never campaigns.
    cluster.cut(1, 4);
    cluster.propose(1, 12);
    assertThat(cluster.appliedValues(2)).containsExactly(11L, 12L);
    cluster.isolate(1);
    cluster.tick(4, 100);
    assertThat(cluster.status(4).role()).isEqualTo(Role.FOLLOWER);
    assertThat(cluster.status(4).term()).isEqualTo(cluster.status(1).term());
  }

  @Test
  void jointConsensusReplacesAVoterAndLeavesTheJointConfigByItself() {
    ScriptedCluster cluster = clusterWithLearner4();
    ConfChange swap =
        new ConfChange(
            ConfChange.Transition.JOINT_IMPLICIT,
            List.of(
                new ConfChange.Operation(ConfChange.OperationType.ADD_VOTER, 4),
                new ConfChange.Operation(ConfChange.OperationType.REMOVE_MEMBER, 3)));
    cluster.node(1).proposeConfChange(swap);
    cluster.stabilize();
    cluster.tickAll(3);
    ConfState config = cluster.status(1).confState();
    assertThat(config.isJoint()).isFalse();
    assertThat(config.voters()).containsExactly(1L, 2L, 4L);
    // The joint step was really taken: some member applied a joint configuration.
    assertThat(cluster.appliedByMember.get(2L))
        .filteredOn(entry -> entry.type() == EntryType.CONF_CHANGE)
        .hasSize(3); // add learner, enter joint, leave joint
    cluster.propose(1, 21);
    assertThat(cluster.appliedValues(4)).containsExactly(21L);
  }

  @Test
  void explicitJointConfigStaysUntilLeftAndOnlyOneChangeIsPending() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder);
    cluster.addSpare(4, builder -> builder);
    cluster.campaign(1);
    ConfChange enter =
        new ConfChange(
            ConfChange.Transition.JOINT_EXPLICIT,
            List.of(new ConfChange.Operation(ConfChange.OperationType.ADD_VOTER, 4)));
    cluster.members.get(1L).node.proposeConfChange(enter);
    // Not yet applied: a second change is refused.
    assertThatThrownBy(() -> cluster.node(1).proposeConfChange(ConfChange.addLearner(4)))
        .isInstanceOf(ProposalDroppedException.class)
        .extracting(error -> ((ProposalDroppedException) error).reason())
        .isEqualTo(ProposalDroppedException.Reason.CONF_CHANGE_PENDING);
    cluster.stabilize();
    cluster.tickAll(3);
    ConfState joint = cluster.status(1).confState();
    assertThat(joint.isJoint()).isTrue();
    assertThat(joint.votersOutgoing()).containsExactly(1L, 2L, 3L);
    assertThat(joint.voters()).containsExactly(1L, 2L, 3L, 4L);
    assertThatThrownBy(() -> cluster.node(1).proposeConfChange(ConfChange.addLearner(4)))
        .isInstanceOf(ProposalDroppedException.class);
    cluster.node(1).proposeConfChange(ConfChange.leaveJoint());
    cluster.stabilize();
    cluster.tickAll(3);
    assertThat(cluster.status(1).confState().isJoint()).isFalse();
    assertThat(cluster.status(1).confState().voters()).containsExactly(1L, 2L, 3L, 4L);
  }

  @Test
  void membershipChangerRefusesInvalidChanges() {
    ConfState three = ConfState.ofVoters(java.util.Set.of(1L, 2L, 3L));
    assertThatThrownBy(() ->
            MembershipChanger.simple(
                three,
                new ConfChange(
                    ConfChange.Transition.AUTO,
                    List.of(
                        new ConfChange.Operation(ConfChange.OperationType.ADD_VOTER, 4),
                        new ConfChange.Operation(ConfChange.OperationType.ADD_VOTER, 5)))))
        .hasMessageContaining("more than one voter");
    assertThatThrownBy(() -> MembershipChanger.leaveJoint(three)).hasMessageContaining("not joint");
    ConfState one = ConfState.ofVoters(java.util.Set.of(1L));
    assertThatThrownBy(() -> MembershipChanger.apply(one, ConfChange.removeMember(1)))
        .hasMessageContaining("all voters");
    // The input is never mutated.
    ConfState demoted =
        MembershipChanger.apply(
            three,
            new ConfChange(
                ConfChange.Transition.JOINT_EXPLICIT,
                List.of(new ConfChange.Operation(ConfChange.OperationType.ADD_LEARNER, 3))));
    assertThat(three.voters()).containsExactly(1L, 2L, 3L);
    assertThat(demoted.learnersNext()).containsExactly(3L);
    assertThat(MembershipChanger.leaveJoint(demoted).learners()).containsExactly(3L);
  }

  @Test
  void conflictingTermIsSkippedInOneRoundTrip() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder.checkQuorum(false));
    cluster.campaign(1);
    cluster.isolate(1);
    for (long value = 1; value <= 20; value++) {
      cluster.propose(1, value); // uncommitted entries of the old term on 1 only
    }
    cluster.tick(2, 30); // 2 and 3 elect a new leader
    long leader = cluster.leader();
    assertThat(leader).isIn(2L, 3L);
    for (long value = 100; value <= 130; value++) {
      cluster.propose(leader, value);
    }
    // A second new leader starts with next = its last index + 1 for member 1: far past the point
    // where the logs agree.
    long nextLeader = leader == 2 ? 3 : 2;
    cluster.node(leader).transferLeader(nextLeader);
    cluster.stabilize();
    assertThat(cluster.leader()).isEqualTo(nextLeader);
    leader = nextLeader;
    cluster.heal();
    cluster.sent.clear();
    cluster.tick(leader, 2);
    long rejections =
        cluster.sent.stream()
            .filter(m -> m.type() == MessageType.APPEND_RESPONSE && m.from() == 1 && m.reject())
            .count();
    // One entry at a time would take 20 rejections; the term hint skips them all at once.
    assertThat(rejections).isBetween(1L, 2L);
    assertThat(cluster.members.get(1L).registerValue).isEqualTo(130);
  }

  @Test
  void followerForwardsProposalsToTheLeader() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder);
    cluster.campaign(1);
    cluster.propose(2, 42);
    assertThat(cluster.appliedValues(1)).containsExactly(42L);
    cluster.isolate(1);
    cluster.tick(2, 30);
    long leader = cluster.leader();
    cluster.heal();
    cluster.tickAll(3);
    assertThat(cluster.leader()).isEqualTo(leader);
    RawNode noLeader = new ScriptedCluster(3, builder -> builder).node(1);
    assertThatThrownBy(() -> noLeader.propose(new byte[1]))
        .isInstanceOf(ProposalDroppedException.class)
        .extracting(error -> ((ProposalDroppedException) error).reason())
        .isEqualTo(ProposalDroppedException.Reason.NO_LEADER);
  }

  @Test
  void failedSnapshotSendFallsBackToProbing() {
    ScriptedCluster cluster = ScriptedCluster.withLaggingMember3(5, 20);
    cluster.heal();
    cluster.dropFilter = message -> message.type() == MessageType.SNAPSHOT;
    cluster.tick(1, 1);
    assertThat(cluster.dropped).anyMatch(message -> message.type() == MessageType.SNAPSHOT);
    cluster.node(1).reportSnapshot(3, false);
    cluster.dropFilter = message -> false;
    cluster.tick(1, 3); // a heartbeat response unpauses the probe, which needs a snapshot again
    assertThat(cluster.members.get(3L).registerValue).isEqualTo(20);
  }

  @Test
  void confChangeRoundTripsAndRejectsCorruptData() {
    ConfChange change =
        new ConfChange(
            ConfChange.Transition.JOINT_EXPLICIT,
            List.of(
                new ConfChange.Operation(ConfChange.OperationType.ADD_VOTER, 4),
                new ConfChange.Operation(ConfChange.OperationType.REMOVE_MEMBER, 2)));
    assertThat(ConfChange.decode(change.encode())).isEqualTo(change);
    byte[] corrupt = change.encode();
    corrupt[1] = 9;
    assertThatThrownBy(() -> ConfChange.decode(corrupt))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ConfChange.decode(new byte[3]))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void pipelineIsBoundedByMaxInflightMessages() {
    ScriptedCluster cluster =
        new ScriptedCluster(3, builder -> builder.maxInflightMessages(3).maxSizeBytesPerAppend(1));
    cluster.campaign(1);
    cluster.propose(1, 0); // 2 is now in REPLICATE state
    cluster.cut(2, 1); // acknowledgements from 2 are lost
    cluster.sent.clear();
    for (long value = 1; value <= 10; value++) {
      cluster.propose(1, value);
    }
    long appendsToTwo =
        cluster.sent.stream()
            .filter(m -> m.type() == MessageType.APPEND && m.to() == 2 && !m.entries().isEmpty())
            .count();
    assertThat(appendsToTwo).isEqualTo(3);
  }

  @Test
  void pipelineIsBoundedByMaxInflightBytes() {
    // Each append holds one 100-byte command (117 bytes with the entry header); 300 bytes in
    // flight allow three appends before the window is full.
    ScriptedCluster cluster =
        new ScriptedCluster(
            3,
            builder ->
                builder.maxInflightMessages(100).maxSizeBytesPerAppend(117).maxInflightBytes(300));
    cluster.campaign(1);
    cluster.propose(1, 0);
    cluster.cut(2, 1);
    cluster.sent.clear();
    for (int i = 0; i < 10; i++) {
      cluster.node(1).propose(new byte[100]);
      cluster.stabilize();
    }
    long appendsToTwo =
        cluster.sent.stream()
            .filter(m -> m.type() == MessageType.APPEND && m.to() == 2 && !m.entries().isEmpty())
            .count();
    assertThat(appendsToTwo).isEqualTo(3);
  }

  @Test
  void proposalsBeyondTheUncommittedBytesLimitAreRejected() {
    ScriptedCluster cluster =
        new ScriptedCluster(3, builder -> builder.maxUncommittedEntriesBytes(100));
    cluster.campaign(1);
    cluster.isolate(1);
    int accepted = 0;
    ProposalDroppedException refusal = null;
    for (int i = 0; i < 100 && refusal == null; i++) {
      try {
        cluster.node(1).propose(new byte[30]);
        accepted++;
      } catch (ProposalDroppedException e) {
        refusal = e;
      }
    }
    assertThat(refusal).isNotNull();
    assertThat(refusal.reason()).isEqualTo(ProposalDroppedException.Reason.UNCOMMITTED_BYTES_LIMIT);
    assertThat(accepted).isBetween(3, 4);
  }

  @Test
  void configValidationExplainsWhatIsWrong() {
    assertThatThrownBy(
            () -> Config.builder(1).electionTimeoutTicks(2).heartbeatTimeoutTicks(2).build())
        .hasMessageContaining(
            "electionTimeoutTicks (2) must be greater than heartbeatTimeoutTicks (2)");
    assertThatThrownBy(() -> Config.builder(0).build()).hasMessageContaining("id must be >= 1");
    assertThatThrownBy(() -> Config.builder(1).maxInflightMessages(0).build())
        .hasMessageContaining("maxInflightMessages");
  }

  @Test
  void readyTwiceWithoutAdvanceFailsLoudly() {
    MemoryRaftStorage storage =
        TestMember.bootstrapStorage(ConfState.ofVoters(java.util.Set.of(1L)));
    RawNode node = singleVoter(storage);
    node.campaign();
    Ready ready = node.ready();
    assertThatThrownBy(node::ready)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("twice");
    assertThatThrownBy(() -> node.advance(readyOf(List.of(), true)))
        .isInstanceOf(IllegalStateException.class);
    storage.append(ready.entries());
    ready.hardState().ifPresent(storage::setHardState);
    node.advance(ready);
    assertThat(node.status().role()).isEqualTo(Role.LEADER);
    // A single member commits its own entry once it reports it persisted.
    assertThat(node.status().commitIndex()).isEqualTo(2);
  }

  @Test
  void whileAReadyIsOutstandingAppendsAndReadStatesCanBeTakenEarly() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder);
    cluster.campaign(1);
    cluster.stabilize();
    RawNode leader = cluster.node(1);
    leader.propose(TestMember.encodeWrite(7));
    Ready first = leader.ready(); // its write is "in progress" from here on
    long firstLast = first.entries().getLast().index();
    leader.propose(TestMember.encodeWrite(8));
    leader.readIndex(context("during-write"));
    assertThat(leader.hasReady()).isFalse();
    List<Message> early = leader.takeMessagesBeforePersistence();
    assertThat(early)
        .filteredOn(m -> m.type() == MessageType.APPEND)
        .extracting(Message::to)
        .containsExactlyInAnyOrder(2L, 3L);
    assertThat(early)
        .filteredOn(m -> m.type() == MessageType.APPEND)
        .allMatch(m -> m.entries().stream().anyMatch(e -> e.index() == firstLast + 1));
    assertThat(early).allMatch(m -> m.type().sendableBeforePersistence());
    assertThat(leader.takeMessagesBeforePersistence()).isEmpty(); // taken once
    // The leader does not count itself for the second entry before its own write.
    assertThat(leader.status().commitIndex()).isLessThan(firstLast + 1);
    cluster.node(2).step(early.stream().filter(m -> m.to() == 2).findFirst().orElseThrow());
    assertThat(leader.takeReadStates()).isEmpty(); // no quorum confirmed the read yet
    MemoryRaftStorage storage = cluster.members.get(1L).storage;
    storage.append(first.entries());
    first.hardState().ifPresent(storage::setHardState);
    leader.advance(first);
    Ready second = leader.ready();
    assertThat(second.entries()).extracting(Entry::index).containsExactly(firstLast + 1);
    assertThat(second.messages())
        .filteredOn(m -> m.type() == MessageType.APPEND)
        .noneMatch(m -> m.entries().stream().anyMatch(e -> e.index() == firstLast + 1));
  }

  @Test
  void votesAndAcknowledgementsWaitForPersistenceButAppendsDoNot() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder.preVote(false));
    RawNode candidate = cluster.node(1);
    candidate.campaign();
    Ready ready = candidate.ready();
    assertThat(ready.messages()).isEmpty();
    assertThat(ready.persistedMessages()).extracting(Message::type).containsOnly(MessageType.VOTE);
    assertThat(ready.hardState()).isPresent();
    candidate.advance(ready);
  }

  @Test
  void aReadyThatOnlyMovesTheCommitIndexNeedsNoSync() {
    MemoryRaftStorage storage =
        TestMember.bootstrapStorage(ConfState.ofVoters(java.util.Set.of(1L)));
    RawNode node = singleVoter(storage);
    node.campaign();
    Ready election = node.ready();
    assertThat(election.mustSync()).as("new term and vote, and the leader's empty entry").isTrue();
    storage.append(election.entries());
    election.hardState().ifPresent(storage::setHardState);
    node.advance(election);
    Ready commitOnly = node.ready(); // the empty entry is persisted: it commits
    assertThat(commitOnly.entries()).isEmpty();
    assertThat(commitOnly.hardState()).map(HardState::commit).contains(2L);
    assertThat(commitOnly.hardState().orElseThrow().term()).isEqualTo(storage.hardState().term());
    assertThat(commitOnly.mustSync()).isFalse();
    node.advance(commitOnly); // its hard state is not written: as if lost in a crash
    node.propose(TestMember.encodeWrite(5));
    Ready append = node.ready();
    assertThat(append.entries()).extracting(Entry::index).containsExactly(3L);
    assertThat(append.mustSync()).isTrue();
    storage.append(append.entries());
    node.advance(append);
    Ready next = node.ready();
    assertThat(next.hardState()).map(HardState::commit).contains(3L);
    assertThat(next.mustSync()).isFalse();
    assertThatThrownBy(() -> readyOf(append.entries(), false))
        .isInstanceOf(Invariants.InvariantViolation.class);
  }

  @Test
  void aRestartWithACommitIndexBelowTheSnapshotStartsCommittedThroughTheSnapshot() {
    // The commit index was last fsynced at 1 (later ones were written without an fsync and lost),
    // while a snapshot through 5 survived: everything a snapshot covers is committed.
    ConfState voters = ConfState.ofVoters(java.util.Set.of(1L, 2L, 3L));
    MemoryRaftStorage storage = new MemoryRaftStorage(voters);
    storage.applySnapshot(
        new Snapshot(new SnapshotMetadata(5, 2, voters), TestMember.encodeState(0, 0)));
    storage.setHardState(new HardState(2, 1, 1));
    RawNode node =
        new RawNode(
            Config.builder(1).appliedIndex(5).build(), storage, new java.util.SplittableRandom(1));
    assertThat(node.status().commitIndex()).isEqualTo(5);
  }

  private static RawNode singleVoter(MemoryRaftStorage storage) {
    return new RawNode(Config.builder(1).build(), storage, new java.util.SplittableRandom(1));
  }

  /** A Ready with only {@code entries}, as the core never hands out. */
  private static Ready readyOf(List<Entry> entries, boolean mustSync) {
    return new Ready(
        entries,
        java.util.Optional.empty(),
        Snapshot.EMPTY,
        List.of(),
        List.of(),
        List.of(),
        List.of(),
        mustSync);
  }
}
