package io.ringkv.raft;

/** A snapshot of a core's state for monitoring and tests. */
public record Status(
    long id,
    Role role,
    long term,
    long vote,
    long leaderId,
    long commitIndex,
    long appliedIndex,
    long lastIndex,
    ConfState confState,
    long leadTransferee) {}
