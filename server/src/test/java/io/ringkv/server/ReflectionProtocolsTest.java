package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.MethodDescriptorProto;
import com.google.protobuf.DescriptorProtos.ServiceDescriptorProto;
import com.google.protobuf.MessageLite;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.ringkv.server.config.ConfigLoader;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Proves a node answers both server-reflection protocols, so every gRPC tool can discover its API
 * with no proto files: {@code grpc.reflection.v1} (current grpcurl and friends) and {@code
 * grpc.reflection.v1alpha} (grpcurl before 1.9 and many other clients). Each protocol is asked
 * through grpc-java's own method descriptor for it, on one real node on 127.0.0.241: list the
 * services, then resolve the symbol {@code ringkv.v1.KV} to the file that declares it and find its
 * Put, Get and Txn methods there. The two protocols share field numbers, so a v1alpha answer is
 * read through the v1 message type; a malformed answer would fail that parse.
 */
class ReflectionProtocolsTest {
  private static final String HOST = "127.0.0.241";

  @TempDir static Path dataDir;
  private static RingkvNode node;
  private static ManagedChannel channel;

  enum Protocol {
    V1(io.grpc.reflection.v1.ServerReflectionGrpc.getServerReflectionInfoMethod()) {
      @Override
      MessageLite listServices() {
        return io.grpc.reflection.v1.ServerReflectionRequest.newBuilder()
            .setListServices("")
            .build();
      }

      @Override
      MessageLite fileContainingSymbol(String symbol) {
        return io.grpc.reflection.v1.ServerReflectionRequest.newBuilder()
            .setFileContainingSymbol(symbol)
            .build();
      }
    },
    V1ALPHA(io.grpc.reflection.v1alpha.ServerReflectionGrpc.getServerReflectionInfoMethod()) {
      @Override
      MessageLite listServices() {
        return io.grpc.reflection.v1alpha.ServerReflectionRequest.newBuilder()
            .setListServices("")
            .build();
      }

      @Override
      MessageLite fileContainingSymbol(String symbol) {
        return io.grpc.reflection.v1alpha.ServerReflectionRequest.newBuilder()
            .setFileContainingSymbol(symbol)
            .build();
      }
    };

    final MethodDescriptor<?, ?> method;

    Protocol(MethodDescriptor<?, ?> method) {
      this.method = method;
    }

    abstract MessageLite listServices();

    abstract MessageLite fileContainingSymbol(String symbol);
  }

  @BeforeAll
  static void startNode() throws Exception {
    node =
        RingkvNode.start(
            ConfigLoader.load(
                new String[] {
                  "--data-dir",
                  dataDir.toString(),
                  "--host",
                  HOST,
                  "--client-addr",
                  ":" + freePort(),
                  "--peer-addr",
                  ":" + freePort(),
                  "--metrics-addr",
                  ":" + freePort(),
                  "--partitions",
                  "4"
                }));
    channel = NettyChannelBuilder.forAddress(node.clientAddress()).usePlaintext().build();
  }

  @AfterAll
  static void stopNode() throws InterruptedException {
    if (channel != null) {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    }
    if (node != null) {
      node.close();
    }
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void listsTheServicesAToolNeeds(Protocol protocol) throws Exception {
    ServerReflectionResponse response = ask(protocol, protocol.listServices());
    List<String> services =
        response.getListServicesResponse().getServiceList().stream()
            .map(ServiceResponse::getName)
            .toList();
    assertThat(services)
        .contains(
            "ringkv.v1.KV",
            "ringkv.v1.Cluster",
            "ringkv.v1.Watch",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection");
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void resolvesTheKvServiceToItsMethods(Protocol protocol) throws Exception {
    ServerReflectionResponse response =
        ask(protocol, protocol.fileContainingSymbol("ringkv.v1.KV"));
    List<ServiceDescriptorProto> services = new ArrayList<>();
    for (ByteString file : response.getFileDescriptorResponse().getFileDescriptorProtoList()) {
      FileDescriptorProto descriptor = FileDescriptorProto.parseFrom(file);
      if (descriptor.getPackage().equals("ringkv.v1")) {
        services.addAll(descriptor.getServiceList());
      }
    }
    ServiceDescriptorProto kv =
        services.stream().filter(s -> s.getName().equals("KV")).findFirst().orElseThrow();
    assertThat(kv.getMethodList())
        .extracting(MethodDescriptorProto::getName)
        .contains("Put", "Get", "Txn", "Delete", "Scan");
  }

  /** One request on a reflection stream of {@code protocol}; its first answer, read as v1. */
  @SuppressWarnings("unchecked")
  private static ServerReflectionResponse ask(Protocol protocol, MessageLite request)
      throws Exception {
    CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
    MethodDescriptor<MessageLite, MessageLite> method =
        (MethodDescriptor<MessageLite, MessageLite>) protocol.method;
    StreamObserver<MessageLite> requests =
        ClientCalls.asyncBidiStreamingCall(
            channel.newCall(method, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS)),
            new StreamObserver<>() {
              @Override
              public void onNext(MessageLite response) {
                try {
                  answer.complete(ServerReflectionResponse.parseFrom(response.toByteString()));
                } catch (IOException e) {
                  answer.completeExceptionally(e);
                }
              }

              @Override
              public void onError(Throwable error) {
                answer.completeExceptionally(error);
              }

              @Override
              public void onCompleted() {}
            });
    requests.onNext(request);
    ServerReflectionResponse response = answer.get(10, TimeUnit.SECONDS);
    requests.onCompleted();
    assertThat(response.hasErrorResponse()).as("error: %s", response.getErrorResponse()).isFalse();
    return response;
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
      return socket.getLocalPort();
    }
  }
}
