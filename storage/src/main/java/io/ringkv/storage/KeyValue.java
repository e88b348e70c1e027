package io.ringkv.storage;

/** A user key with its stored value, as returned by scans. */
public record KeyValue(byte[] key, StoredValue value) {}
