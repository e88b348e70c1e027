package io.ringkv.server.config;

/**
 * The named limits of a node's inputs. Every one is a validated setting; hitting one rejects or
 * drops the input and counts it in a metric. Relations between limits are checked once, here.
 *
 * @param keySizeBytesMax largest key a request may carry
 * @param valueSizeBytesMax largest value a request may carry
 * @param requestSizeBytesMax largest serialized client request (gRPC inbound message size)
 * @param txnOpsMax most operations (compares plus ops of both branches) in one Txn
 * @param scanLimitMax most pairs one Scan page returns
 * @param inflightProposalsPerPartitionMax proposals a partition leader holds uncommitted before it
 *     answers RESOURCE_EXHAUSTED
 * @param peerFrameSizeBytesMax largest frame on the peer transport, in either direction
 * @param peerSendQueueFramesMax frames queued for a peer that is not connected; more are dropped
 * @param responseSizeBytesMax largest serialized response a request may produce (a Txn whose answer
 *     would be larger is refused and applies nothing; a Scan page is cut by bytes to fit)
 */
public record Limits(
    int keySizeBytesMax,
    int valueSizeBytesMax,
    int requestSizeBytesMax,
    int txnOpsMax,
    int scanLimitMax,
    int inflightProposalsPerPartitionMax,
    int peerFrameSizeBytesMax,
    int peerSendQueueFramesMax,
    int responseSizeBytesMax) {
  /**
   * Room a peer frame needs beyond one maximal request: Raft message and entry headers, and the
   * other fields of a proposal. A maximal request must fit in one frame, or it could never
   * replicate.
   */
  public static final int PEER_FRAME_OVERHEAD_BYTES = 64 * 1024;

  /**
   * Room a response needs beyond its keys and values: the header, revisions, field tags, a Scan's
   * next key. A Get of the largest key and value must fit in one response.
   */
  public static final int RESPONSE_OVERHEAD_BYTES = 16 * 1024;

  /**
   * The response limit's default: gRPC's default inbound message size (4 MiB, which grpcurl and
   * grpc-java channels keep unless told otherwise) less the overhead room, so every response of a
   * node with default limits is readable by any default gRPC client.
   */
  public static final int RESPONSE_SIZE_BYTES_MAX_DEFAULT =
      4 * 1024 * 1024 - RESPONSE_OVERHEAD_BYTES;

  public static final Limits DEFAULTS =
      new Limits(
          4 * 1024,
          1024 * 1024,
          4 * 1024 * 1024,
          128,
          10_000,
          1024,
          16 * 1024 * 1024,
          4096,
          RESPONSE_SIZE_BYTES_MAX_DEFAULT);

  public Limits {
    if ((long) requestSizeBytesMax < (long) keySizeBytesMax + valueSizeBytesMax) {
      throw new ConfigException(
          "request-size-bytes-max",
          "must be at least key-size-bytes-max + value-size-bytes-max = "
              + ((long) keySizeBytesMax + valueSizeBytesMax)
              + ", got "
              + requestSizeBytesMax);
    }
    if ((long) responseSizeBytesMax
        < (long) keySizeBytesMax + valueSizeBytesMax + RESPONSE_OVERHEAD_BYTES) {
      throw new ConfigException(
          "response-size-bytes-max",
          "must be at least key-size-bytes-max + value-size-bytes-max + "
              + RESPONSE_OVERHEAD_BYTES
              + " = "
              + ((long) keySizeBytesMax + valueSizeBytesMax + RESPONSE_OVERHEAD_BYTES)
              + " (a Get of the largest pair must fit), got "
              + responseSizeBytesMax);
    }
    if ((long) peerFrameSizeBytesMax < (long) requestSizeBytesMax + PEER_FRAME_OVERHEAD_BYTES) {
      throw new ConfigException(
          "peer-frame-size-bytes-max",
          "must be at least request-size-bytes-max + "
              + PEER_FRAME_OVERHEAD_BYTES
              + " = "
              + ((long) requestSizeBytesMax + PEER_FRAME_OVERHEAD_BYTES)
              + ", got "
              + peerFrameSizeBytesMax);
    }
  }
}
