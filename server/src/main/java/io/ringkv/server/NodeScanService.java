package io.ringkv.server;

import io.grpc.stub.StreamObserver;
import io.ringkv.proto.internal.NodeScanGrpc;
import io.ringkv.proto.internal.NodeScanRequest;
import io.ringkv.proto.internal.NodeScanResponse;

/**
 * Answers another node's request for this node's share of a scan (see {@link ScanFanOut}). Its
 * handler waits for read barriers, so it runs on the server's call executor, never on the transport
 * thread; it never forwards, so a stale view on either side cannot bounce a scan between nodes.
 */
final class NodeScanService extends NodeScanGrpc.NodeScanImplBase {
  private final ScanFanOut scans;

  NodeScanService(ScanFanOut scans) {
    this.scans = scans;
  }

  @Override
  public void scanPartitions(NodeScanRequest request, StreamObserver<NodeScanResponse> observer) {
    KvService.respond(observer, () -> scans.serveShare(request));
  }
}
