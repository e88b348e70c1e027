package io.ringkv.raft;

import java.util.ArrayList;
import java.util.List;

/**
 * Entries (and possibly a snapshot) the core has accepted but the application has not yet
 * persisted. Entry {@code i} lives at {@code entries.get(i - offset)}; everything below {@code
 * offset} is in storage. A snapshot, when present, ends right before {@code offset}.
 */
final class UnstableLog {
  Snapshot snapshot;
  final List<Entry> entries = new ArrayList<>();
  long offset;

  UnstableLog(long offset) {
    this.offset = offset;
  }

  /** The first index if a pending snapshot defines it, else -1. */
  long maybeFirstIndex() {
    return snapshot == null ? -1 : snapshot.metadata().index() + 1;
  }

  /** The last index if known from unstable data, else -1. */
  long maybeLastIndex() {
    if (!entries.isEmpty()) {
      return offset + entries.size() - 1;
    }
    return snapshot == null ? -1 : snapshot.metadata().index();
  }

  /** The term at {@code index} if known from unstable data, else -1. */
  long maybeTerm(long index) {
    if (index < offset) {
      if (snapshot != null && snapshot.metadata().index() == index) {
        return snapshot.metadata().term();
      }
      return -1;
    }
    long last = maybeLastIndex();
    if (last == -1 || index > last) {
      return -1;
    }
    return entries.get((int) (index - offset)).term();
  }

  /** The application persisted entries up to ({@code index}, {@code term}). */
  void stableTo(long index, long term) {
    long known = maybeTerm(index);
    // A mismatch means the entries were replaced after the Ready went out: keep the newer ones.
    if (known == term && index >= offset) {
      entries.subList(0, (int) (index + 1 - offset)).clear();
      offset = index + 1;
    }
  }

  void stableSnapshotTo(long index) {
    if (snapshot != null && snapshot.metadata().index() == index) {
      snapshot = null;
    }
  }

  void restore(Snapshot newSnapshot) {
    offset = newSnapshot.metadata().index() + 1;
    entries.clear();
    snapshot = newSnapshot;
  }

  void truncateAndAppend(List<Entry> newEntries) {
    long after = newEntries.get(0).index();
    if (after == offset + entries.size()) {
      entries.addAll(newEntries);
    } else if (after <= offset) {
      // Replaces everything unstable and part of storage: the application overwrites that suffix.
      offset = after;
      entries.clear();
      entries.addAll(newEntries);
    } else {
      entries.subList((int) (after - offset), entries.size()).clear();
      entries.addAll(newEntries);
    }
  }

  List<Entry> slice(long lowIndex, long highIndex) {
    Invariants.check(
        lowIndex >= offset && highIndex <= offset + entries.size() && lowIndex <= highIndex,
        "unstable slice [%d,%d) out of [%d,%d]",
        lowIndex,
        highIndex,
        offset,
        offset + entries.size());
    return entries.subList((int) (lowIndex - offset), (int) (highIndex - offset));
  }
}
