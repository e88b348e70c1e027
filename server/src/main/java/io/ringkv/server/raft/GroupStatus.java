package io.ringkv.server.raft;

import io.ringkv.raft.Role;
import java.util.List;

/**
 * What the driver last published about one local replica; read by any thread.
 *
 * @param partition the partition (= Raft group id)
 * @param role this replica's role
 * @param term its current term
 * @param leaderId the leader it knows, 0 for none
 * @param commitIndex its commit index
 * @param appliedIndex its applied index
 * @param voters the group's voters
 */
public record GroupStatus(
    int partition,
    Role role,
    long term,
    long leaderId,
    long commitIndex,
    long appliedIndex,
    List<Long> voters) {}
