package io.ringkv.server.raft;

import io.ringkv.proto.internal.CommandResult;

/**
 * An applied command's result, as the proposer learns it.
 *
 * @param result what the state machine answered
 * @param term the term of the entry
 * @param index the entry's log index (the partition revision)
 */
public record ProposalOutcome(CommandResult result, long term, long index) {}
