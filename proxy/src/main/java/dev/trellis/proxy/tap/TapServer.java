package dev.trellis.proxy.tap;

import dev.trellis.api.tap.v1.ObserveRequest;
import dev.trellis.api.tap.v1.TapEvent;
import dev.trellis.api.tap.v1.TapGrpc;
import dev.trellis.core.identity.IdentityPattern;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import io.grpc.Grpc;
import io.grpc.Server;
import io.grpc.Status;
import dev.trellis.tls.grpc.MeshGrpcServers;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.netty.handler.ssl.ClientAuth;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSession;

/**
 * The tap listener (default 0.0.0.0:4190): gRPC over mutual TLS, {@code Tap.Observe} for the
 * viz identity only (anyone else: PERMISSION_DENIED). At most {@value #MAX_LIMIT} events and
 * {@value #MAX_SUBSCRIBERS} subscribers at once; a subscriber that cannot keep up loses events
 * rather than queueing them.
 */
public final class TapServer implements AutoCloseable {

    static final int MAX_LIMIT = 10_000;
    static final int MAX_SUBSCRIBERS = 8;

    private final Server server;

    private TapServer(Server server) {
        this.server = server;
    }

    public static TapServer start(HostPort listen, CredentialsStore credentials, WorkloadIdentity viz, TapHub hub, Clock clock) throws IOException {
        Server server = MeshGrpcServers.forAddress(listen.toSocketAddress(), MeshSslContexts.forGrpcServer(credentials, ClientAuth.REQUIRE, clock))
                .maxInboundMessageSize(16 * 1024)
                .maxConcurrentCallsPerConnection(MAX_SUBSCRIBERS)
                .addService(new TapGrpc.TapImplBase() {
                    @Override
                    public void observe(ObserveRequest request, StreamObserver<TapEvent> responses) {
                        SSLSession session = CALLER_SESSION.get();
                        Optional<WorkloadIdentity> caller = session == null ? Optional.empty() : MeshSslContexts.peerIdentity(session);
                        if (caller.isEmpty() || !IdentityPattern.exactly(viz).matches(caller.get())) {
                            responses.onError(Status.PERMISSION_DENIED.withDescription("tap: only " + viz + " may tap this proxy").asRuntimeException());
                            return;
                        }
                        if (hub.subscribers() >= MAX_SUBSCRIBERS) {
                            responses.onError(Status.RESOURCE_EXHAUSTED.withDescription("tap: " + MAX_SUBSCRIBERS + " taps already open").asRuntimeException());
                            return;
                        }
                        ServerCallStreamObserver<TapEvent> stream = (ServerCallStreamObserver<TapEvent>) responses;
                        int limit = request.getLimit() == 0 ? 100 : (int) Math.min(request.getLimit(), MAX_LIMIT);
                        Object lock = new Object();
                        TapHub.Subscriber[] self = new TapHub.Subscriber[1];
                        self[0] = hub.subscribe(request.getMatch(), limit, event -> {
                            synchronized (lock) {
                                if (!stream.isCancelled() && stream.isReady()) {
                                    stream.onNext(event);
                                }
                            }
                        }, () -> {
                            synchronized (lock) {
                                if (!stream.isCancelled()) {
                                    stream.onCompleted();
                                }
                            }
                        });
                        stream.setOnCancelHandler(() -> hub.unsubscribe(self[0]));
                    }
                })
                .intercept(new io.grpc.ServerInterceptor() {
                    @Override
                    public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call, io.grpc.Metadata headers,
                                                                               io.grpc.ServerCallHandler<Q, R> next) {
                        io.grpc.Context context = io.grpc.Context.current().withValue(CALLER_SESSION, call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
                        return io.grpc.Contexts.interceptCall(context, call, headers, next);
                    }
                })
                .build();
        try {
            server.start();
        } catch (IOException e) {
            throw new IOException("proxy: cannot listen for tap on " + listen + ": " + e.getMessage(), e);
        }
        return new TapServer(server);
    }

    private static final io.grpc.Context.Key<SSLSession> CALLER_SESSION = io.grpc.Context.key("trellis-tap-caller");

    public InetSocketAddress address() {
        return (InetSocketAddress) server.getListenSockets().getFirst();
    }

    @Override
    public void close() {
        server.shutdownNow();
        try {
            server.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
