package io.ringkv.server;

import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Counts every finished gRPC call by status code ({@code ringkv_grpc_calls_total{code=...}}). A
 * stream tracer sees what interceptors do not: calls the transport itself ends, such as a request
 * larger than request-size-bytes-max, which gRPC refuses with RESOURCE_EXHAUSTED before any service
 * code runs. The tag is the code only: method names come from clients and would let them create
 * meters without bound; latency is timed per method only for the methods of ringkv's own services
 * (a fixed set), everything else under "other".
 */
final class GrpcCallMetrics extends ServerStreamTracer.Factory {
  private final Map<Status.Code, Counter> byCode = new EnumMap<>(Status.Code.class);
  private final Map<String, io.micrometer.core.instrument.Timer> byMethod =
      new java.util.HashMap<>();
  private final io.micrometer.core.instrument.Timer otherMethods;

  GrpcCallMetrics(MeterRegistry registry) {
    for (io.grpc.ServiceDescriptor service :
        List.of(
            io.ringkv.proto.v1.KVGrpc.getServiceDescriptor(),
            io.ringkv.proto.v1.ClusterGrpc.getServiceDescriptor())) {
      for (io.grpc.MethodDescriptor<?, ?> method : service.getMethods()) {
        byMethod.put(method.getFullMethodName(), timer(registry, method.getFullMethodName()));
      }
    }
    otherMethods = timer(registry, "other");
    for (Status.Code code : Status.Code.values()) {
      byCode.put(
          code,
          Counter.builder("ringkv.grpc.calls")
              .description("finished client gRPC calls by status code")
              .tag("code", code.name())
              .register(registry));
    }
  }

  private static io.micrometer.core.instrument.Timer timer(MeterRegistry registry, String method) {
    return io.micrometer.core.instrument.Timer.builder("ringkv.grpc.call.latency")
        .description("client gRPC call latency (and, by count, rate) per method")
        .tag("method", method)
        .publishPercentileHistogram()
        .register(registry);
  }

  @Override
  public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
    long startedNanos = System.nanoTime();
    io.micrometer.core.instrument.Timer timer = byMethod.getOrDefault(fullMethodName, otherMethods);
    return new ServerStreamTracer() {
      @Override
      public void streamClosed(Status status) {
        byCode.get(status.getCode()).increment();
        timer.record(System.nanoTime() - startedNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
      }
    };
  }
}
