package dev.trellis.viz;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.tap.v1.Match;
import dev.trellis.api.tap.v1.ObserveRequest;
import dev.trellis.api.tap.v1.TapEvent;
import dev.trellis.api.tap.v1.TapGrpc;
import dev.trellis.core.identity.WorkloadIdentity;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.netty.handler.ssl.SslContext;
import java.net.InetSocketAddress;
import java.util.function.Consumer;

/**
 * Taps one proxy: {@code Tap.Observe} over mutual TLS as the viz identity, checking the proxy
 * presents its pod's identity. The returned handle cancels the tap.
 */
public final class TapClient {

    private final SslContext grpcTls;

    /** {@code grpcTls}: a gRPC client context presenting the viz identity's certificate. */
    public TapClient(SslContext grpcTls) {
        this.grpcTls = requireNonNull(grpcTls, "grpcTls");
    }

    /** Streams up to {@code limit} requests' events matching {@code match} into {@code sink}; {@code ended} runs once the tap ends, for whatever reason. */
    public AutoCloseable observe(InetSocketAddress tap, WorkloadIdentity proxy, Match match, int limit, Consumer<TapEvent> sink, Consumer<String> ended) {
        ManagedChannel channel = NettyChannelBuilder.forAddress(tap).sslContext(grpcTls).overrideAuthority(proxy.dnsName()).build();
        ClientCallStreamObserver<?>[] call = new ClientCallStreamObserver<?>[1];
        TapGrpc.newStub(channel).observe(ObserveRequest.newBuilder().setMatch(match).setLimit(limit).build(), new ClientResponseObserver<ObserveRequest, TapEvent>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<ObserveRequest> requestStream) {
                call[0] = requestStream;
            }

            @Override
            public void onNext(TapEvent event) {
                sink.accept(event);
            }

            @Override
            public void onError(Throwable t) {
                channel.shutdownNow();
                ended.accept(String.valueOf(t.getMessage()));
            }

            @Override
            public void onCompleted() {
                channel.shutdownNow();
                ended.accept("done");
            }
        });
        return () -> {
            if (call[0] != null) {
                call[0].cancel("viz: tap no longer wanted", null);
            }
            channel.shutdownNow();
        };
    }
}
