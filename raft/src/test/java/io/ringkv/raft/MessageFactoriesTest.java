package io.ringkv.raft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves that each message factory fills the fields its type uses and refuses arguments that type
 * cannot carry: an append whose entries do not follow its position, a snapshot message without a
 * snapshot, a read request without context, ids of 0, and a forwarded message that is no request.
 */
class MessageFactoriesTest {
  private static Entry entry(long term, long index) {
    return new Entry(term, index, EntryType.NORMAL, new byte[0]);
  }

  @Test
  void appendCarriesItsPositionEntriesAndCommit() {
    Message append = Message.append(2, 1, 5, 4, 10, List.of(entry(4, 11), entry(5, 12)), 9);
    assertThat(append.type()).isEqualTo(MessageType.APPEND);
    assertThat(append.logTerm()).isEqualTo(4);
    assertThat(append.index()).isEqualTo(10);
    assertThat(append.entries()).hasSize(2);
    assertThat(append.commit()).isEqualTo(9);
    assertThat(append.reject()).isFalse();
  }

  @Test
  void appendRefusesEntriesThatDoNotFollowItsPosition() {
    assertThatThrownBy(() -> Message.append(2, 1, 5, 4, 10, List.of(entry(5, 12)), 9))
        .isInstanceOf(Invariants.InvariantViolation.class)
        .hasMessageContaining("not contiguous");
    assertThatThrownBy(() -> Message.append(2, 1, 5, 4, 10, List.of(entry(6, 11)), 9))
        .hasMessageContaining("outside");
    assertThatThrownBy(() -> Message.append(2, 1, 5, 4, 10, List.of(entry(3, 11)), 9))
        .hasMessageContaining("outside");
    assertThatThrownBy(() -> Message.append(2, 1, 5, 1, 10, List.of(entry(3, 11), entry(2, 12)), 9))
        .hasMessageContaining("outside");
  }

  @Test
  void responsesSayWhetherTheyGrantOrReject() {
    assertThat(Message.voteResponse(false, 2, 1, 3, true).reject()).isFalse();
    assertThat(Message.voteResponse(true, 2, 1, 3, false).type())
        .isEqualTo(MessageType.PRE_VOTE_RESPONSE);
    Message rejected = Message.appendRejected(2, 1, 3, 10, 2, 7);
    assertThat(rejected.reject()).isTrue();
    assertThat(rejected.rejectHint()).isEqualTo(7);
    assertThat(rejected.logTerm()).isEqualTo(2);
    assertThatThrownBy(() -> Message.appendRejected(2, 1, 3, 10, 2, 11))
        .hasMessageContaining("hint");
  }

  @Test
  void requestsAreTermlessAndOnlyTheyAreForwarded() {
    Message read = Message.readIndex(1, 1, new byte[] {7});
    assertThat(read.term()).isZero();
    assertThat(read.withTo(3).to()).isEqualTo(3);
    assertThatThrownBy(() -> Message.readIndex(1, 1, new byte[0]))
        .hasMessageContaining("without context");
    assertThatThrownBy(() -> Message.timeoutNow(2, 1, 3).withTo(4))
        .hasMessageContaining("only requests");
  }

  @Test
  void votesOfAForcedCampaignCarryTheTransferContext() {
    Message vote = Message.voteRequest(false, 2, 1, 4, 3, 20, true);
    assertThat(vote.context()).isEqualTo(Message.CAMPAIGN_TRANSFER);
    assertThat(Message.voteRequest(true, 2, 1, 4, 3, 20, false).context()).isEmpty();
  }

  @Test
  void snapshotsIdsAndNegativeFieldsAreChecked() {
    assertThatThrownBy(() -> Message.snapshot(2, 1, 3, Snapshot.EMPTY))
        .hasMessageContaining("without one");
    assertThatThrownBy(() -> Message.timeoutNow(0, 1, 3)).hasMessageContaining("ids must be > 0");
    assertThatThrownBy(() -> Message.appendAccepted(2, 1, -1, 5)).hasMessageContaining("negative");
    Snapshot snapshot =
        new Snapshot(
            new SnapshotMetadata(5, 2, ConfState.ofVoters(java.util.Set.of(1L))), new byte[0]);
    Message message = Message.snapshot(2, 1, 3, snapshot);
    Snapshot other =
        new Snapshot(
            new SnapshotMetadata(6, 2, ConfState.ofVoters(java.util.Set.of(1L))), new byte[0]);
    assertThat(message.withSnapshot(other).snapshot()).isSameAs(other);
    assertThatThrownBy(() -> Message.heartbeat(2, 1, 3, 0, 0, new byte[0]).withSnapshot(other))
        .hasMessageContaining("carries no snapshot");
  }
}
