package io.ringkv.client;

import java.util.Optional;

/**
 * The outcome of a put: the partition revision it created, and the previous entry when it was asked
 * for and existed.
 */
public record PutResult(long revision, Optional<Entry> previous) {}
