package io.ringkv.client;

import java.util.List;
import java.util.Optional;

/**
 * One page of a scan: its entries in key order, and the key to continue from when more follow. Use
 * {@link RingKvClient#scanPage(ScanQuery, byte[])} with {@link #nextKey()} to fetch the next page,
 * or let {@link BlockingRingKvClient#scan(ScanQuery)} do it lazily.
 */
public record ScanPage(List<Entry> entries, Optional<byte[]> nextKey) {
  public ScanPage {
    entries = List.copyOf(entries);
  }

  public boolean hasMore() {
    return nextKey.isPresent();
  }
}
