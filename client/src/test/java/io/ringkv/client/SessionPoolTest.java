package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Proves the session contract on the client side: sessions in use are distinct and non-zero, a
 * session's sequence grows by one per write, a released session is reused with its sequence
 * continuing, and misuse (double release) fails loudly.
 */
class SessionPoolTest {
  @Test
  void concurrentWritesGetDistinctNonZeroSessions() {
    SessionPool pool = new SessionPool(new SplittableRandom(7), 4);
    Set<Long> ids = new HashSet<>();
    for (int i = 0; i < 100; i++) {
      SessionPool.Session session = pool.acquire();
      assertThat(session.id()).isNotZero();
      assertThat(ids.add(session.id())).isTrue();
    }
    assertThat(pool.inUseCount()).isEqualTo(100);
  }

  @Test
  void sequencesContinueAcrossReuse() {
    SessionPool pool = new SessionPool(new SplittableRandom(7), 4);
    SessionPool.Session session = pool.acquire();
    assertThat(session.nextWrite().getSequence()).isEqualTo(1);
    long id = session.id();
    pool.release(session);
    SessionPool.Session again = pool.acquire();
    assertThat(again.id()).isEqualTo(id);
    var write = again.nextWrite();
    assertThat(write.getSessionId()).isEqualTo(id);
    assertThat(write.getSequence()).isEqualTo(2);
  }

  @Test
  void idleSessionsAreCappedAndDoubleReleaseFails() {
    SessionPool pool = new SessionPool(new SplittableRandom(7), 2);
    List<SessionPool.Session> sessions = List.of(pool.acquire(), pool.acquire(), pool.acquire());
    sessions.forEach(pool::release);
    assertThat(pool.idleCount()).isEqualTo(2);
    assertThat(pool.inUseCount()).isZero();
    assertThatThrownBy(() -> pool.release(sessions.get(0)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("not in use");
  }
}
