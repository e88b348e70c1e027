package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/**
 * Proves that a call's deadline fails its future once it passes, also one already past, and that
 * the timer's tick fits the margin a node keeps before the client's deadline.
 */
class CallDeadlinesTest {
  @Test
  void aFutureNotCompleteByItsDeadlineFailsWithATimeout() {
    try (CallDeadlines deadlines = new CallDeadlines("test-deadlines")) {
      CompletableFuture<String> future =
          deadlines.within(new CompletableFuture<>(), TimeUnit.MILLISECONDS.toNanos(30));
      assertThatThrownBy(() -> future.get(10, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .hasCauseInstanceOf(TimeoutException.class);
    }
  }

  @Test
  void aDeadlineAlreadyPastFailsAtTheNextTick() {
    try (CallDeadlines deadlines = new CallDeadlines("test-deadlines")) {
      CompletableFuture<String> future = deadlines.within(new CompletableFuture<>(), -5);
      assertThatThrownBy(() -> future.get(10, TimeUnit.SECONDS))
          .hasCauseInstanceOf(TimeoutException.class);
    }
  }

  @Test
  void aTimeoutFiresInsideTheMarginKeptBeforeTheClientsDeadline() {
    // A timeout fires up to one tick early and never late, so one tick must fit in the margin.
    assertThat(CallDeadlines.TICK_MILLIS).isLessThan(LeaderRouter.DEADLINE_MARGIN_MILLIS);
  }
}
