package io.ringkv.server;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.StatusRuntimeException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Answers a request whose bytes do not decode with INVALID_ARGUMENT (MALFORMED), as the client
 * contract says, instead of gRPC's own UNKNOWN "Application error processing RPC".
 *
 * <p>gRPC decodes a request before any handler or interceptor sees it, and turns a decoding failure
 * into UNKNOWN. So each method is re-bound with a request marshaller that never throws: it hands
 * over the decoded request or the failure, and the call's listener closes the call with a proper
 * status on a failure (no extra copy of the bytes). The service keeps its name, method names and
 * schema descriptors, so reflection and routing by method name see no difference.
 */
final class MalformedRequests {
  private MalformedRequests() {}

  static ServerServiceDefinition refusedAsInvalid(ServerServiceDefinition service) {
    ServiceDescriptor original = service.getServiceDescriptor();
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    ServiceDescriptor.Builder descriptor =
        ServiceDescriptor.newBuilder(original.getName())
            .setSchemaDescriptor(original.getSchemaDescriptor());
    for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
      ServerMethodDefinition<?, ?> raw = decodedInListener(method);
      methods.add(raw);
      descriptor.addMethod(raw.getMethodDescriptor());
    }
    ServerServiceDefinition.Builder builder = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(builder::addMethod);
    return builder.build();
  }

  private static <Q, R> ServerMethodDefinition<Decoded<Q>, R> decodedInListener(
      ServerMethodDefinition<Q, R> definition) {
    MethodDescriptor<Q, R> method = definition.getMethodDescriptor();
    MethodDescriptor<Decoded<Q>, R> raw =
        method.toBuilder(new Decoding<>(method), method.getResponseMarshaller()).build();
    ServerCallHandler<Decoded<Q>, R> handler =
        (call, headers) -> {
          ServerCall.Listener<Q> inner =
              definition.getServerCallHandler().startCall(new Typed<>(call, method), headers);
          return new DecodingListener<>(call, method, inner);
        };
    return ServerMethodDefinition.create(raw, handler);
  }

  /** The raw call seen by the handler as a call of its own request type (no method takes one). */
  private static final class Typed<Q, R> extends ForwardingServerCall<Q, R> {
    private final ServerCall<?, R> call;
    private final MethodDescriptor<Q, R> method;

    Typed(ServerCall<?, R> call, MethodDescriptor<Q, R> method) {
      this.call = call;
      this.method = method;
    }

    @Override
    @SuppressWarnings("unchecked")
    protected ServerCall<Q, R> delegate() {
      return (ServerCall<Q, R>) call;
    }

    @Override
    public MethodDescriptor<Q, R> getMethodDescriptor() {
      return method;
    }
  }

  /** Decodes each message; an undecodable one closes the call with INVALID_ARGUMENT. */
  private static final class DecodingListener<Q, R> extends ServerCall.Listener<Decoded<Q>> {
    private final ServerCall<Decoded<Q>, R> call;
    private final MethodDescriptor<Q, R> method;
    private final ServerCall.Listener<Q> inner;
    private boolean refused;

    DecodingListener(
        ServerCall<Decoded<Q>, R> call,
        MethodDescriptor<Q, R> method,
        ServerCall.Listener<Q> inner) {
      this.call = call;
      this.method = method;
      this.inner = inner;
    }

    @Override
    public void onMessage(Decoded<Q> message) {
      if (refused) {
        return;
      }
      if (message.request() == null) {
        refused = true;
        StatusRuntimeException malformed =
            KvErrors.malformed("undecodable " + method.getBareMethodName() + " request");
        Metadata trailers = malformed.getTrailers();
        call.close(malformed.getStatus(), trailers == null ? new Metadata() : trailers);
        return;
      }
      inner.onMessage(message.request());
    }

    @Override
    public void onHalfClose() {
      if (!refused) {
        inner.onHalfClose();
      }
    }

    @Override
    public void onCancel() {
      inner.onCancel();
    }

    @Override
    public void onComplete() {
      inner.onComplete();
    }

    @Override
    public void onReady() {
      inner.onReady();
    }
  }

  /** A decoded request, or null when its bytes did not decode. */
  private record Decoded<Q>(Q request) {}

  /** Decodes with the method's own marshaller, but reports a failure instead of throwing. */
  private static final class Decoding<Q> implements MethodDescriptor.Marshaller<Decoded<Q>> {
    private final MethodDescriptor<Q, ?> method;

    Decoding(MethodDescriptor<Q, ?> method) {
      this.method = method;
    }

    @Override
    public InputStream stream(Decoded<Q> value) {
      return method.streamRequest(value.request());
    }

    @Override
    public Decoded<Q> parse(InputStream stream) {
      try {
        return new Decoded<>(method.parseRequest(stream));
      } catch (RuntimeException e) {
        return new Decoded<>(null);
      }
    }
  }
}
