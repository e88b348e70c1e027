package io.ringkv.storage.raftlog;

import io.ringkv.raft.Entry;
import io.ringkv.raft.HardState;
import io.ringkv.raft.Invariants;
import io.ringkv.raft.LogCompactedException;
import io.ringkv.raft.LogUnavailableException;
import io.ringkv.storage.StorageException;
import io.ringkv.storage.raftlog.LogRecord.CompactMark;
import io.ringkv.storage.raftlog.LogRecord.Destroy;
import io.ringkv.storage.raftlog.LogRecord.Entries;
import io.ringkv.storage.raftlog.LogRecord.HardStateMark;
import io.ringkv.storage.raftlog.LogRecord.Truncate;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Raft logs of every group of a node in one append-only stream of segment files.
 *
 * <p>Design notes. Writers hand in lists of {@link LogRecord}s ({@link #submit} queues them for the
 * writer thread; {@link #write} writes on the calling thread). The writer takes everything queued
 * (up to {@code batchWritesMax} writes), checks each write against its groups' bounds as staged by
 * the writes before it, encodes all records into one buffer, writes it at the end of the active
 * segment and fsyncs once: one fsync per batch, whatever the number of groups. Only then does it
 * update the in-memory index ({@link GroupIndex}: index to segment and offset) and complete the
 * futures, so readers never see an entry that a crash could still take away. A failed write or
 * fsync stops the log: after that the file's state is unknown.
 *
 * <p>A segment is preallocated (zero-filled) to {@code segmentSizeBytes}; a batch that does not fit
 * starts the next one. Suffix truncation is implicit in an entries record (it replaces the log from
 * its first index on) or explicit ({@link Truncate}); compaction is a mark, and a destroyed group a
 * {@link Destroy} record after which the same group id starts afresh. The oldest segments are
 * deleted once no group has a live entry in them; the compaction marks and hard states that still
 * live only there are first written again at the tail, so that replaying what remains gives the
 * same state. The hard state lives in this log too, so one fsync covers a Ready's entries and its
 * vote and commit.
 *
 * <p>The planted durability bug ({@link SegmentedLogOptions#debugUnsyncedWrites}) keeps batches in
 * this process's memory instead of the file, writes them out at most once per {@link
 * SegmentedLogOptions#DEBUG_WRITE_OUT_INTERVAL_MILLIS} (and before a rollover or close) and never
 * fsyncs: a SIGKILL then loses the latest acknowledged batches, as a power loss loses unsynced
 * ones. Skipping only the fsync would prove nothing against SIGKILL, which leaves the page cache
 * intact. Reads of held records decode them from memory.
 *
 * <p>Reads take the file lock's read side (purge takes the write side before closing files), look
 * up the locations under this object's monitor, and read each record with its checksum verified.
 */
public final class SegmentedLog implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SegmentedLog.class);
  private static final Pending STOP = new Pending(List.of(), null);

  /** How often a submitter waiting for room in a full queue checks that the writer still runs. */
  private static final long QUEUE_WAIT_POLL_MILLIS = 10;

  /**
   * Segments the log may have before purge rewrites the groups that pin the oldest one: a group
   * that stops compacting (idle, or with fewer entries than the compaction threshold) would keep
   * its oldest segment, and with it every later one, forever. Busy groups compact past a segment
   * within about two rollovers, so only idle ones are rewritten, and they are small.
   */
  static final int REWRITE_AFTER_SEGMENTS = 3;

  /** Live entry bytes one purge writes again at the tail (a larger group is left to compact). */
  static final long REWRITE_BYTES_MAX = 8L * 1024 * 1024;

  /**
   * Live entries a group may have for purge to write it again; a group with more is left to
   * compact. Purge runs on the writer thread, so it must not read a large group's whole log only to
   * find it too big: one node had 16 groups of 4,000 entries pinning the oldest segment, and every
   * purge read all of them (hundreds of MB), stalling group commits for seconds.
   */
  static final long REWRITE_ENTRIES_MAX = 1024;

  /** Bytes one batch may take: a buffer and a segment are addressed by int. */
  static final long BATCH_SIZE_BYTES_MAX = Integer.MAX_VALUE / 2;

  private final SegmentedLogOptions options;
  private final NavigableMap<Long, Segment> segments = new ConcurrentSkipListMap<>();
  private final Map<Long, GroupIndex> groups = new HashMap<>();
  private final ReentrantReadWriteLock fileLock = new ReentrantReadWriteLock();
  private final ReentrantLock writeLock = new ReentrantLock();
  private final BlockingQueue<Pending> queue;
  private final AtomicLong fsyncs = new AtomicLong();
  private final AtomicLong recordsWritten = new AtomicLong();
  private final AtomicLong segmentsPurged = new AtomicLong();
  private final AtomicLong groupsRewritten = new AtomicLong();
  private Thread writer;
  private Segment active;
  private Spare spare;
  private long writePosition;

  /** Whether the active segment's last batch was written without an fsync. */
  private boolean activeUnsynced;

  private long batchSequence;
  private ByteBuffer buffer = ByteBuffer.allocateDirect(64 * 1024);
  private volatile boolean closed;
  private volatile Throwable failure;

  /**
   * Planted bug only: batches not yet in the file, from {@link #heldFrom} of the active segment.
   */
  private final Object heldLock = new Object();

  private ByteBuffer held = ByteBuffer.allocate(0);
  private long heldSegment;
  private long heldFrom;
  private long heldWrittenOutMillis;

  private SegmentedLog(SegmentedLogOptions options) {
    this.options = options;
    this.queue = new ArrayBlockingQueue<>(options.queueWritesMax());
  }

  /** Opens (or creates) the log in the options' directory, replaying every segment. */
  public static SegmentedLog open(SegmentedLogOptions options) {
    SegmentedLog opened = new SegmentedLog(options);
    try {
      opened.recover();
    } catch (IOException e) {
      opened.closeSegments();
      throw new StorageException("open Raft log in " + options.directory() + " failed", e);
    } catch (RuntimeException e) {
      opened.closeSegments();
      throw e;
    }
    opened.writer = options.writerThreadFactory().newThread(opened::run);
    opened.writer.start();
    return opened;
  }

  private void recover() throws IOException {
    Path directory = options.directory();
    Files.createDirectories(directory);
    List<Path> files;
    try (Stream<Path> listing = Files.list(directory)) {
      files = listing.sorted().toList();
    }
    for (Path file : files) {
      if (file.getFileName().toString().endsWith(Segment.SUFFIX + ".tmp")) {
        Files.delete(file); // a segment whose creation did not finish: never held a record
      }
    }
    List<Path> segmentFiles = files.stream().filter(f -> Segment.sequenceOf(f) >= 0).toList();
    for (int i = 0; i < segmentFiles.size(); i++) {
      Path file = segmentFiles.get(i);
      long sequence = Segment.sequenceOf(file);
      Segment segment = Segment.open(file, sequence);
      segments.put(sequence, segment);
      recoverSegment(segment, i == segmentFiles.size() - 1);
    }
    for (GroupIndex group : groups.values()) {
      String problem = group.replayProblem();
      if (problem != null) {
        throw new CorruptLogException(
            segments.firstEntry().getValue().path,
            Segment.HEADER_SIZE_BYTES,
            "group " + group.groupId() + ": " + problem);
      }
    }
    if (active == null) {
      rollover(0);
    }
    log.info(
        "Raft log open in {}: {} segments, {} groups, next batch {}",
        directory,
        segments.size(),
        groups.size(),
        batchSequence + 1);
  }

  private void recoverSegment(Segment segment, boolean last) throws IOException {
    MappedByteBuffer mapped =
        segment.channel.map(FileChannel.MapMode.READ_ONLY, 0, segment.sizeBytes);
    Segment.checkHeader(segment.path, mapped, segment.sequence);
    SegmentRecovery.Result result =
        SegmentRecovery.scan(
            segment.path,
            mapped,
            last,
            batchSequence,
            (decoded, offset) -> apply(decoded.record(), segment.sequence, offset));
    batchSequence = result.lastBatchSequence();
    if (result.tornTail()) {
      zero(segment, result.endOffset());
    }
    if (last) {
      active = segment;
      writePosition = result.endOffset();
    }
  }

  /** Zeroes a torn tail so that nothing of it can be taken for a record later. */
  private static void zero(Segment segment, long from) throws IOException {
    ByteBuffer zeros = ByteBuffer.allocate(64 * 1024);
    for (long position = from; position < segment.sizeBytes; ) {
      zeros.clear().limit((int) Math.min(zeros.capacity(), segment.sizeBytes - position));
      Segment.writeFully(segment.channel, zeros, position);
      position += zeros.limit();
    }
    segment.channel.force(false);
  }

  // ---- reading ----

  public synchronized long firstIndex(long groupId) {
    GroupIndex group = groups.get(groupId);
    return group == null ? 1 : group.firstIndex();
  }

  public synchronized long lastIndex(long groupId) {
    GroupIndex group = groups.get(groupId);
    return group == null ? 0 : group.lastIndex();
  }

  /** The hard state last written for the group, or {@link HardState#EMPTY}. */
  public synchronized HardState hardState(long groupId) {
    GroupIndex group = groups.get(groupId);
    return group == null ? HardState.EMPTY : group.hardState();
  }

  /** Groups with any entry, compaction mark or hard state in the log. */
  public synchronized List<Long> groupIds() {
    return List.copyOf(groups.keySet());
  }

  /** The term of entry {@code index}, also for {@code firstIndex - 1} (the compaction point). */
  public synchronized long term(long groupId, long index) {
    GroupIndex group = groups.get(groupId);
    long truncated = group == null ? 0 : group.truncatedIndex();
    long last = group == null ? 0 : group.lastIndex();
    if (index < truncated) {
      throw new LogCompactedException(index, truncated + 1);
    }
    if (index > last) {
      throw new LogUnavailableException(index, last);
    }
    return group == null ? 0 : group.term(index);
  }

  /**
   * Entries {@code [lowIndex, highIndex)} of a group, at most {@code maxSizeBytes} of them (but at
   * least one), each record's checksum verified.
   */
  public List<Entry> entries(long groupId, long lowIndex, long highIndex, long maxSizeBytes) {
    Invariants.check(lowIndex <= highIndex, "entries: low %d > high %d", lowIndex, highIndex);
    fileLock.readLock().lock();
    try {
      int count = (int) (highIndex - lowIndex);
      long[] locationSegments = new long[count];
      long[] locationOffsets = new long[count];
      synchronized (this) {
        GroupIndex group = groups.get(groupId);
        long first = group == null ? 1 : group.firstIndex();
        long last = group == null ? 0 : group.lastIndex();
        if (lowIndex < first) {
          throw new LogCompactedException(lowIndex, first);
        }
        if (highIndex > last + 1) {
          throw new LogUnavailableException(highIndex - 1, last);
        }
        for (int i = 0; i < count; i++) {
          locationSegments[i] = group.segment(lowIndex + i);
          locationOffsets[i] = group.offset(lowIndex + i);
        }
      }
      return read(groupId, lowIndex, locationSegments, locationOffsets, maxSizeBytes);
    } finally {
      fileLock.readLock().unlock();
    }
  }

  private List<Entry> read(
      long groupId, long lowIndex, long[] segmentOf, long[] offsetOf, long maxSizeBytes) {
    List<Entry> result = new ArrayList<>(segmentOf.length);
    long sizeBytes = 0;
    List<Entry> recordEntries = null;
    for (int i = 0; i < segmentOf.length; i++) {
      if (i == 0 || segmentOf[i] != segmentOf[i - 1] || offsetOf[i] != offsetOf[i - 1]) {
        recordEntries = readEntries(groupId, segmentOf[i], offsetOf[i]);
      }
      long index = lowIndex + i;
      Entry entry = recordEntries.get((int) (index - recordEntries.getFirst().index()));
      Invariants.check(entry.index() == index, "group %d: read %s for %d", groupId, entry, index);
      sizeBytes += entry.sizeBytes();
      if (!result.isEmpty() && sizeBytes > maxSizeBytes) {
        break;
      }
      result.add(entry);
    }
    return result;
  }

  private List<Entry> readEntries(long groupId, long segmentSequence, long offset) {
    Segment segment = segments.get(segmentSequence);
    Invariants.check(segment != null, "group %d: segment %d is gone", groupId, segmentSequence);
    try {
      LogRecord record = heldRecord(segmentSequence, offset);
      if (record == null) {
        record = segment.read(offset).record();
      }
      Invariants.check(
          record instanceof Entries && record.groupId() == groupId,
          "group %d: record at %s offset %d is %s",
          groupId,
          segment.path,
          offset,
          record);
      return ((Entries) record).entries();
    } catch (IOException e) {
      throw new UncheckedIOException("read " + segment.path + " at " + offset, e);
    }
  }

  // ---- writing ----

  /**
   * Queues {@code records} to be written, in order, in one batch with one fsync. The future
   * completes once they are durable, or exceptionally if a record does not fit its group's log
   * (then none of them is written) or the log stopped.
   */
  public CompletableFuture<Void> submit(List<LogRecord> records) {
    CompletableFuture<Void> future = new CompletableFuture<>();
    Pending pending = new Pending(List.copyOf(records), future);
    try {
      while (!closed && failure == null) {
        if (queue.offer(pending, QUEUE_WAIT_POLL_MILLIS, TimeUnit.MILLISECONDS)) {
          return future;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    future.completeExceptionally(stopped());
    return future;
  }

  /** Writes {@code records} durably on the calling thread; throws if any does not fit. */
  public void write(List<LogRecord> records) {
    write(records, true);
  }

  /**
   * Writes {@code records} on the calling thread, fsynced if {@code sync}; throws if any does not
   * fit. Unsynced records reach the disk with the next fsync (of a later write, or before the
   * active segment is rolled over) and may be lost in a crash before it.
   */
  public void write(List<LogRecord> records, boolean sync) {
    Pending pending = new Pending(List.copyOf(records), new CompletableFuture<>());
    if (closed || failure != null) {
      throw stopped();
    }
    for (List<Pending> part : partsWithinSizeMax(List.of(pending))) {
      commitBatch(part, sync);
    }
    pending.future.join();
  }

  /** Compacts the group's log through {@code index} (a no-op if already that far). */
  public CompletableFuture<Void> compact(long groupId, long index) {
    long term = term(groupId, index);
    return submit(List.of(new CompactMark(groupId, index, term, false)));
  }

  /** Forgets the group: its records become dead, and the id may be used again afresh. */
  public CompletableFuture<Void> destroy(long groupId) {
    return submit(List.of(new Destroy(groupId)));
  }

  /** Batches written with one fsync each, since open. */
  public long fsyncCount() {
    return fsyncs.get();
  }

  public long recordsWritten() {
    return recordsWritten.get();
  }

  public long segmentsPurged() {
    return segmentsPurged.get();
  }

  /** Times a group's live entries were written again at the tail so an old segment could go. */
  public long groupsRewritten() {
    return groupsRewritten.get();
  }

  /** Sequence numbers of the segment files, oldest first. */
  public List<Long> segmentSequences() {
    return List.copyOf(segments.keySet());
  }

  private StorageException stopped() {
    return failure != null
        ? new StorageException("Raft log stopped after a failed write", failure)
        : new StorageException("Raft log is closed");
  }

  private void run() {
    List<Pending> batch = new ArrayList<>(options.batchWritesMax());
    boolean stopping = false;
    while (!stopping) {
      try {
        batch.add(queue.take());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        closed = true;
        break;
      }
      queue.drainTo(batch, options.batchWritesMax() - 1);
      stopping = batch.remove(STOP);
      for (List<Pending> part : partsWithinSizeMax(batch)) {
        try {
          commitBatch(part, true);
        } catch (RuntimeException e) {
          log.error("Raft log write failed; the log accepts no more writes", e);
        }
      }
      batch.clear();
    }
    for (Pending late = queue.poll(); late != null; late = queue.poll()) {
      if (late != STOP) {
        late.future.completeExceptionally(stopped());
      }
    }
  }

  /**
   * {@code batch} cut into consecutive parts of at most {@link #BATCH_SIZE_BYTES_MAX} bytes each; a
   * write alone above it fails (no caller of the storage engine sends one: its writes are bounded
   * far lower).
   */
  private static List<List<Pending>> partsWithinSizeMax(List<Pending> batch) {
    List<List<Pending>> parts = new ArrayList<>();
    List<Pending> part = new ArrayList<>();
    long partBytes = 0;
    for (Pending pending : batch) {
      long bytes = 0;
      for (LogRecord record : pending.records) {
        bytes += RecordCodec.encodedSizeBytes(record);
      }
      if (bytes > BATCH_SIZE_BYTES_MAX) {
        pending.future.completeExceptionally(
            new StorageException(
                "Raft log write of " + bytes + " bytes above " + BATCH_SIZE_BYTES_MAX));
        continue;
      }
      if (partBytes + bytes > BATCH_SIZE_BYTES_MAX) {
        parts.add(part);
        part = new ArrayList<>();
        partBytes = 0;
      }
      part.add(pending);
      partBytes += bytes;
    }
    if (!part.isEmpty()) {
      parts.add(part);
    }
    return parts;
  }

  /**
   * Checks, writes with one fsync, indexes, completes; then purges what became dead (after the
   * acknowledgements, so that a purge's extra fsync never delays them).
   */
  private void commitBatch(List<Pending> batch, boolean sync) {
    List<Pending> accepted = new ArrayList<>(batch.size());
    boolean purgeMaybe;
    writeLock.lock();
    try {
      if (failure != null) {
        throw stopped();
      }
      List<LogRecord> records = check(batch, accepted);
      if (records.isEmpty()) {
        return;
      }
      purgeMaybe = writeDurably(records, sync);
    } catch (RuntimeException e) {
      for (Pending pending : batch) {
        pending.future.completeExceptionally(e);
      }
      throw e;
    } finally {
      writeLock.unlock();
    }
    for (Pending pending : accepted) {
      pending.future.complete(null);
    }
    if (purgeMaybe) {
      writeLock.lock();
      try {
        if (failure == null) {
          purge();
        }
      } finally {
        writeLock.unlock();
      }
    }
  }

  /** The records of the writes that fit their groups' logs; the others fail at once. */
  private List<LogRecord> check(List<Pending> batch, List<Pending> accepted) {
    Map<Long, long[]> staged = new HashMap<>();
    List<LogRecord> records = new ArrayList<>();
    for (Pending pending : batch) {
      Map<Long, long[]> attempt = new HashMap<>();
      try {
        for (LogRecord record : pending.records) {
          long[] bounds = attempt.computeIfAbsent(record.groupId(), g -> copyBounds(staged, g));
          stage(record, bounds);
        }
      } catch (StorageException e) {
        pending.future.completeExceptionally(e);
        continue;
      }
      staged.putAll(attempt);
      records.addAll(pending.records);
      accepted.add(pending);
    }
    return records;
  }

  private long[] copyBounds(Map<Long, long[]> staged, long groupId) {
    long[] bounds = staged.get(groupId);
    if (bounds != null) {
      return bounds.clone();
    }
    synchronized (this) {
      GroupIndex group = groups.get(groupId);
      return group == null
          ? new long[] {0, 0}
          : new long[] {group.truncatedIndex(), group.lastIndex()};
    }
  }

  /** Moves {@code bounds} ({truncatedIndex, lastIndex}) past {@code record}, or throws. */
  private static void stage(LogRecord record, long[] bounds) {
    switch (record) {
      case Entries entries -> {
        long first = entries.firstIndex();
        if (first <= bounds[0] || first > bounds[1] + 1) {
          throw misfit(record, "append at " + first, bounds);
        }
        bounds[1] = entries.entries().getLast().index();
      }
      case Truncate truncate -> {
        if (truncate.fromIndex() <= bounds[0]) {
          throw misfit(record, "truncate from " + truncate.fromIndex(), bounds);
        }
        bounds[1] = Math.min(bounds[1], truncate.fromIndex() - 1);
      }
      case CompactMark mark -> {
        if (mark.reset()) {
          bounds[0] = mark.index();
          bounds[1] = mark.index();
        } else if (mark.index() > bounds[1]) {
          throw misfit(record, "compact through " + mark.index(), bounds);
        } else {
          bounds[0] = Math.max(bounds[0], mark.index());
        }
      }
      case HardStateMark hardState -> {}
      case Destroy destroy -> {
        bounds[0] = 0;
        bounds[1] = 0;
      }
    }
  }

  private static StorageException misfit(LogRecord record, String what, long[] bounds) {
    return new StorageException(
        "group "
            + record.groupId()
            + ": "
            + what
            + " does not fit log "
            + (bounds[0] + 1)
            + ".."
            + bounds[1]);
  }

  /**
   * Writes one batch and fsyncs it (unless not {@code sync}), then indexes it; true if segments may
   * have become dead.
   */
  private boolean writeDurably(List<LogRecord> records, boolean sync) {
    long totalBytes = 0;
    for (LogRecord record : records) {
      totalBytes += RecordCodec.encodedSizeBytes(record);
    }
    // Callers bound their writes (the storage engine's batchSizeBytesMax); one batch of many
    // writers' parts must still fit one buffer and one segment.
    Invariants.check(
        totalBytes <= BATCH_SIZE_BYTES_MAX,
        "batch of %d bytes above %d",
        totalBytes,
        BATCH_SIZE_BYTES_MAX);
    int sizeBytes = (int) totalBytes;
    boolean rolled = false;
    try {
      if (writePosition + sizeBytes > active.sizeBytes) {
        rollover(sizeBytes);
        rolled = true;
      }
      long sequence = ++batchSequence;
      if (buffer.capacity() < sizeBytes) {
        buffer = ByteBuffer.allocateDirect(Integer.highestOneBit(sizeBytes) * 2);
      }
      buffer.clear();
      int[] offsets = new int[records.size()];
      for (int i = 0; i < records.size(); i++) {
        offsets[i] = buffer.position();
        RecordCodec.encode(records.get(i), sequence, buffer);
      }
      buffer.flip();
      if (options.debugUnsyncedWrites()) {
        hold(buffer, writePosition);
      } else {
        Segment.writeFully(active.channel, buffer, writePosition);
        if (sync) {
          active.channel.force(false);
        }
        activeUnsynced = !sync;
      }
      if (sync) {
        fsyncs.incrementAndGet();
      }
      recordsWritten.addAndGet(records.size());
      boolean dead = rolled;
      synchronized (this) {
        for (int i = 0; i < records.size(); i++) {
          dead |= apply(records.get(i), active.sequence, writePosition + offsets[i]);
        }
      }
      writePosition += sizeBytes;
      return dead;
    } catch (IOException e) {
      failure = e;
      throw new StorageException("Raft log write to " + active.path + " failed", e);
    }
  }

  /**
   * Starts a new active segment with room for at least {@code sizeBytes} of records: the spare one
   * prepared in the background if it is large enough, so that the writer does not zero-fill a whole
   * segment between two batches; then starts preparing the next spare.
   */
  private void rollover(int sizeBytes) throws IOException {
    writeOutHeld(); // held bytes belong to the segment that stops being active
    if (activeUnsynced) {
      // An fsync of the next segment would not cover them: a segment that is not the last must
      // never end in bytes the disk may have torn.
      active.channel.force(false);
      activeUnsynced = false;
    }
    long sequence = active == null ? 1 : active.sequence + 1;
    long size = Math.max(options.segmentSizeBytes(), Segment.HEADER_SIZE_BYTES + (long) sizeBytes);
    Segment created;
    if (spare != null && spare.sequence() == sequence && size == options.segmentSizeBytes()) {
      created = Segment.install(options.directory(), sequence, spare.join());
    } else {
      if (spare != null) {
        spare.join(); // the same temporary name is created again below
      }
      created = Segment.create(options.directory(), sequence, size);
    }
    segments.put(sequence, created);
    active = created;
    writePosition = Segment.HEADER_SIZE_BYTES;
    long next = sequence + 1;
    spare =
        new Spare(
            next,
            CompletableFuture.supplyAsync(
                () -> Segment.prepare(options.directory(), next, options.segmentSizeBytes()),
                runnable -> options.writerThreadFactory().newThread(runnable).start()));
  }

  /** Planted bug: keeps an encoded batch in memory, written out at most once per interval. */
  private void hold(ByteBuffer batch, long position) throws IOException {
    synchronized (heldLock) {
      if (held.position() == 0) {
        heldSegment = active.sequence;
        heldFrom = position;
      }
      Invariants.check(
          heldSegment == active.sequence && heldFrom + held.position() == position,
          "held batches not contiguous at %d",
          position);
      if (held.remaining() < batch.remaining()) {
        ByteBuffer larger =
            ByteBuffer.allocate(Math.max(2 * held.capacity(), held.position() + batch.remaining()));
        larger.put(held.flip());
        held = larger;
      }
      held.put(batch.duplicate());
      long now = options.millisClock().getAsLong();
      if (now - heldWrittenOutMillis >= SegmentedLogOptions.DEBUG_WRITE_OUT_INTERVAL_MILLIS) {
        heldWrittenOutMillis = now;
        writeOutHeld();
      }
    }
  }

  /** Planted bug: hands the held batches to the operating system (without fsync). */
  private void writeOutHeld() throws IOException {
    synchronized (heldLock) {
      if (held.position() == 0) {
        return;
      }
      Segment segment = segments.get(heldSegment);
      Segment.writeFully(segment.channel, held.duplicate().flip(), heldFrom);
      held.clear();
    }
  }

  /** Planted bug: the record at {@code offset} if it is still held in memory, else null. */
  private LogRecord heldRecord(long segmentSequence, long offset) {
    synchronized (heldLock) {
      if (held.position() == 0 || segmentSequence != heldSegment || offset < heldFrom) {
        return null;
      }
      RecordCodec.Decoded decoded =
          RecordCodec.tryDecode(held.duplicate().flip(), (int) (offset - heldFrom));
      Invariants.check(decoded != null, "held record at %d does not decode", offset);
      return decoded.record();
    }
  }

  /** A segment file being prepared under its temporary name for sequence {@code sequence}. */
  private record Spare(long sequence, CompletableFuture<Path> file) {
    Path join() throws IOException {
      try {
        return file.join();
      } catch (java.util.concurrent.CompletionException e) {
        throw new IOException("preparing segment " + sequence + " failed", e.getCause());
      }
    }
  }

  /**
   * Applies a durable record to the index (the writer after fsync, and replay at open); true if it
   * may have made entries dead.
   */
  private boolean apply(LogRecord record, long segment, long offset) {
    Invariants.check(Thread.holdsLock(this) || writer == null, "index changed without its lock");
    switch (record) {
      case Entries entries -> {
        List<Entry> list = entries.entries();
        long[] terms = new long[list.size()];
        for (int i = 0; i < terms.length; i++) {
          terms[i] = list.get(i).term();
        }
        group(record.groupId()).append(entries.firstIndex(), terms, segment, offset);
        return false;
      }
      case Truncate truncate -> {
        group(record.groupId()).truncateFrom(truncate.fromIndex());
        return true;
      }
      case CompactMark mark -> {
        group(record.groupId()).compact(mark.index(), mark.term(), mark.reset(), segment);
        return true;
      }
      case HardStateMark hardState -> {
        group(record.groupId()).setHardState(hardState.hardState(), segment);
        return false;
      }
      case Destroy destroy -> {
        groups.remove(record.groupId());
        return true;
      }
    }
  }

  private GroupIndex group(long groupId) {
    return groups.computeIfAbsent(groupId, GroupIndex::new);
  }

  /**
   * Deletes the oldest segments that hold no live entry, after writing again (one more fsynced
   * batch) the compaction marks and hard states that live only in them.
   */
  private void purge() {
    rewritePinningGroups();
    long cutoff;
    List<LogRecord> rewrites = new ArrayList<>();
    synchronized (this) {
      if (segments.size() == 1) {
        return;
      }
      cutoff = active.sequence;
      for (GroupIndex group : groups.values()) {
        cutoff = Math.min(cutoff, group.oldestLiveEntrySegment());
      }
      if (segments.firstKey() >= cutoff) {
        return;
      }
      for (GroupIndex group : groups.values()) {
        if (group.hasStateBefore(cutoff)) {
          if (group.truncatedIndex() > 0) {
            rewrites.add(
                new CompactMark(
                    group.groupId(), group.truncatedIndex(), group.truncatedTerm(), false));
          }
          if (!group.hardState().equals(HardState.EMPTY)) {
            rewrites.add(new HardStateMark(group.groupId(), group.hardState()));
          }
        }
      }
    }
    if (!rewrites.isEmpty()) {
      writeDurably(rewrites, true);
    }
    fileLock.writeLock().lock();
    try {
      while (segments.firstKey() < cutoff) {
        Segment dead = segments.pollFirstEntry().getValue();
        dead.close();
        Files.delete(dead.path);
        segmentsPurged.incrementAndGet();
      }
    } catch (IOException e) {
      throw new StorageException("purge of Raft log segments failed", e);
    } finally {
      fileLock.writeLock().unlock();
    }
    Segment.syncDirectory(options.directory());
  }

  /**
   * Once there are more than {@link #REWRITE_AFTER_SEGMENTS} segments, writes the live entries of
   * the groups that still have entries in the oldest segment again at the tail (one fsynced batch,
   * at most {@link #REWRITE_BYTES_MAX}), so that purge can delete it. An entries record replaces
   * the group's log from its first index on, so replay gives the same log with or without the old
   * copy. Runs under the write lock: the groups cannot change meanwhile.
   */
  private void rewritePinningGroups() {
    List<long[]> pinning = new ArrayList<>();
    synchronized (this) {
      if (segments.size() <= REWRITE_AFTER_SEGMENTS) {
        return;
      }
      long oldest = segments.firstKey();
      for (GroupIndex group : groups.values()) {
        if (group.oldestLiveEntrySegment() == oldest) {
          pinning.add(new long[] {group.groupId(), group.firstIndex(), group.lastIndex()});
        }
      }
    }
    List<LogRecord> rewrites = new ArrayList<>();
    long rewriteBytes = 0;
    for (long[] group : pinning) {
      long liveCount = group[2] - group[1] + 1;
      if (liveCount > REWRITE_ENTRIES_MAX || rewriteBytes >= REWRITE_BYTES_MAX) {
        continue;
      }
      // Reads at most the room left: a group larger than that is skipped, not read whole.
      List<Entry> live =
          entries(group[0], group[1], group[2] + 1, REWRITE_BYTES_MAX - rewriteBytes);
      if (live.size() < liveCount) {
        continue;
      }
      long liveBytes = 0;
      for (Entry entry : live) {
        liveBytes += RecordCodec.encodedSizeBytes(new Entries(group[0], List.of(entry)));
      }
      if (rewriteBytes + liveBytes > REWRITE_BYTES_MAX) {
        continue;
      }
      rewrites.add(new Entries(group[0], live));
      rewriteBytes += liveBytes;
    }
    if (!rewrites.isEmpty()) {
      writeDurably(rewrites, true);
      groupsRewritten.addAndGet(rewrites.size());
    }
  }

  /** Stops accepting writes, writes everything already queued, and closes the files. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      queue.put(STOP);
      writer.join();
      writeOutHeld(); // a clean stop keeps everything, as RocksDB's close does with its buffer
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StorageException("interrupted while closing the Raft log", e);
    } catch (IOException e) {
      throw new StorageException("closing the Raft log in " + options.directory() + " failed", e);
    } finally {
      if (spare != null) {
        spare.file().exceptionally(e -> null).join(); // its temporary file is removed at open
      }
      closeSegments();
    }
  }

  private void closeSegments() {
    fileLock.writeLock().lock();
    try {
      for (Segment segment : segments.values()) {
        try {
          segment.close();
        } catch (IOException e) {
          log.warn("closing {} failed", segment.path, e);
        }
      }
    } finally {
      fileLock.writeLock().unlock();
    }
  }

  private record Pending(List<LogRecord> records, CompletableFuture<Void> future) {}
}
