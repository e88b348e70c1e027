package io.ringkv.server;

import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.EnumMap;
import java.util.Map;

/**
 * Counts every finished gRPC call by status code ({@code ringkv_grpc_calls_total{code=...}}). A
 * stream tracer sees what interceptors do not: calls the transport itself ends, such as a request
 * larger than request-size-bytes-max, which gRPC refuses with RESOURCE_EXHAUSTED before any service
 * code runs. The tag is the code only: method names come from clients and would let them create
 * meters without bound.
 */
final class GrpcCallMetrics extends ServerStreamTracer.Factory {
  private final Map<Status.Code, Counter> byCode = new EnumMap<>(Status.Code.class);

  GrpcCallMetrics(MeterRegistry registry) {
    for (Status.Code code : Status.Code.values()) {
      byCode.put(
          code,
          Counter.builder("ringkv.grpc.calls")
              .description("finished client gRPC calls by status code")
              .tag("code", code.name())
              .register(registry));
    }
  }

  @Override
  public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
    return new ServerStreamTracer() {
      @Override
      public void streamClosed(Status status) {
        byCode.get(status.getCode()).increment();
      }
    };
  }
}
