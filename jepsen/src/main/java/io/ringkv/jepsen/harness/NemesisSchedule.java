package io.ringkv.jepsen.harness;

import io.ringkv.jepsen.harness.nemesis.Nemesis;
import io.ringkv.jepsen.harness.nemesis.NemesisEvent;
import io.ringkv.jepsen.history.Keyword;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Drives one nemesis on a fixed rhythm from a seeded random: healed for {@code healed}, faulty for
 * {@code fault}, again and again until {@link #finish} is called, which heals whatever is active.
 * Each start and stop is recorded as Jepsen does: two {@code :info} entries by {@code :nemesis},
 * the second carrying what was done (or the {@code :error}).
 */
final class NemesisSchedule implements Runnable {
  private final Nemesis nemesis;
  private final HistoryRecorder recorder;
  private final Random random;
  private final Duration fault;
  private final Duration healed;
  private final CountDownLatch finished = new CountDownLatch(1);
  private boolean active;
  private int faultCount;

  NemesisSchedule(
      Nemesis nemesis, HistoryRecorder recorder, long seed, Duration fault, Duration healed) {
    this.nemesis = nemesis;
    this.recorder = recorder;
    this.random = new Random(seed);
    this.fault = fault;
    this.healed = healed;
  }

  @Override
  public void run() {
    try {
      while (!await(healed)) {
        Keyword f = nemesis.prepare(random);
        recorder.nemesis(f, null, null);
        active = true;
        faultCount++;
        record(f, () -> nemesis.start(random));
        if (await(fault)) {
          break;
        }
        heal();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Asks the schedule to stop; it heals the active fault (on its own thread) and returns. */
  void finish() {
    finished.countDown();
  }

  /** Heals the active fault, if any; called by the schedule thread, or after it has ended. */
  void heal() {
    if (!active) {
      return;
    }
    active = false;
    recorder.nemesis(nemesis.stopF(), null, null);
    record(nemesis.stopF(), nemesis::stop);
  }

  int faultCount() {
    return faultCount;
  }

  private boolean await(Duration duration) throws InterruptedException {
    return finished.await(duration.toNanos(), TimeUnit.NANOSECONDS);
  }

  private interface Action {
    NemesisEvent run() throws Exception;
  }

  private void record(Keyword f, Action action) {
    try {
      NemesisEvent event = action.run();
      recorder.nemesis(event.f(), event.value(), null);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      recorder.nemesis(f, null, "interrupted");
    } catch (Exception e) {
      recorder.nemesis(f, null, e.toString());
    }
  }
}
