package io.ringkv.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class HandOffTest {
  private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

  @Test
  void queuedWorkIsTakenInOrderWithoutWaiting() throws InterruptedException {
    HandOff handOff = new HandOff(TimeUnit.MICROSECONDS.toNanos(30));
    BlockingQueue<Integer> queue = new ArrayBlockingQueue<>(4);
    queue.add(1);
    queue.add(2);
    assertThat(handOff.poll(queue, SECOND)).isEqualTo(1);
    assertThat(handOff.poll(queue, SECOND)).isEqualTo(2);
    assertThat(queue).isEmpty();
  }

  @Test
  void workHandedOverWhileSpinningOrParkedReachesTheWaiter() throws Exception {
    // One spin long enough to catch the hand-off, one that is over long before it, and none.
    for (long spinNanos : new long[] {TimeUnit.SECONDS.toNanos(5), 1_000, 0}) {
      HandOff handOff = new HandOff(spinNanos);
      BlockingQueue<String> queue = new LinkedBlockingQueue<>();
      CountDownLatch waiting = new CountDownLatch(1);
      Thread producer =
          Thread.ofPlatform()
              .start(() -> {
                try {
                  waiting.await();
                  Thread.sleep(50);
                  queue.add("work");
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              });
      waiting.countDown();
      assertThat(handOff.poll(queue, 10 * SECOND)).as("spin %d ns", spinNanos).isEqualTo("work");
      producer.join();
    }
  }

  @Test
  void anEmptyQueueGivesNullOnceTheWaitIsOverEvenWhenTheSpinIsLonger() throws InterruptedException {
    HandOff handOff = new HandOff(TimeUnit.SECONDS.toNanos(60));
    BlockingQueue<String> queue = new LinkedBlockingQueue<>();
    assertThat(handOff.poll(queue, TimeUnit.MILLISECONDS.toNanos(20))).isNull();
    assertThat(handOff.poll(queue, 0)).isNull();
    assertThat(new HandOff(0).poll(queue, TimeUnit.MILLISECONDS.toNanos(20))).isNull();
  }

  @Test
  void aNegativeSpinIsRefused() {
    assertThatThrownBy(() -> new HandOff(-1)).isInstanceOf(IllegalArgumentException.class);
  }
}
