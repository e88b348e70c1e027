package io.ringkv.client;

import java.util.Optional;

/**
 * The outcome of a delete: the partition revision, whether a key was there to delete, and the
 * deleted entry when it was asked for.
 */
public record DeleteResult(long revision, boolean deleted, Optional<Entry> previous) {}
