package io.ringkv.gossip;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves the broadcast queue's rules: one update per member (newest wins), least-sent first, an
 * update leaves after its retransmit limit, packets stay within their byte budget, and overflow
 * drops the most-sent update and counts it.
 */
class BroadcastQueueTest {
  private static Update alive(String id, long incarnation) {
    return new Update(id, id, MemberState.ALIVE, incarnation, id);
  }

  @Test
  void aNewerUpdateReplacesTheQueuedOneAboutTheSameMember() {
    BroadcastQueue queue = new BroadcastQueue(16);
    queue.add(alive("a", 1));
    queue.add(alive("a", 2));
    assertThat(queue.size()).isEqualTo(1);
    assertThat(queue.queued("a").incarnation()).isEqualTo(2);
  }

  @Test
  void anUpdateIsSentRetransmitLimitTimesThenLeaves() {
    BroadcastQueue queue = new BroadcastQueue(16);
    queue.add(alive("a", 1));
    for (int round = 0; round < 3; round++) {
      assertThat(queue.take(1_000, 3)).containsExactly(alive("a", 1));
    }
    assertThat(queue.take(1_000, 3)).isEmpty();
  }

  @Test
  void leastSentUpdatesGoFirstAndTheBudgetIsKept() {
    BroadcastQueue queue = new BroadcastQueue(16);
    queue.add(alive("a", 1));
    queue.take(1_000, 10);
    queue.add(alive("b", 1));
    int oneUpdate = WireLimits.updateBytesBound(alive("b", 1));
    assertThat(queue.take(oneUpdate, 10)).containsExactly(alive("b", 1));
  }

  @Test
  void overflowDropsTheMostSentUpdateAndCountsIt() {
    BroadcastQueue queue = new BroadcastQueue(16);
    queue.add(alive("old", 1));
    queue.take(1_000, 10);
    for (int index = 0; index < 16; index++) {
      queue.add(alive("m" + index, 1));
    }
    assertThat(queue.size()).isEqualTo(16);
    assertThat(queue.overflowCount()).isEqualTo(1);
    assertThat(queue.queued("old")).isNull();
    List<Update> next = queue.take(WireLimits.UPDATE_BUDGET_BYTES, 10);
    assertThat(next).isNotEmpty().doesNotContain(alive("old", 1));
  }

  @Test
  void suspicionTimeoutsShrinkWithConfirmationsFromMaxToMin() {
    Suspicion suspicion = new Suspicion(0, "a", 100, 80, 480, 2);
    assertThat(suspicion.deadlineTick()).isEqualTo(580);
    assertThat(suspicion.confirm("a")).isFalse();
    assertThat(suspicion.confirm("b")).isTrue();
    long afterOne = suspicion.deadlineTick();
    assertThat(afterOne).isLessThan(580).isGreaterThan(180);
    assertThat(suspicion.confirm("c")).isTrue();
    assertThat(suspicion.deadlineTick()).isEqualTo(180);
    assertThat(suspicion.confirm("d")).isFalse();
    Suspicion plain = new Suspicion(0, "a", 100, 80, 80, 0);
    assertThat(plain.deadlineTick()).isEqualTo(180);
    assertThat(plain.confirm("b")).isFalse();
  }
}
