package dev.trellis.destination;

import dev.trellis.core.identity.IdentityPattern;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.context.MeshSslContexts;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Optional;
import javax.net.ssl.SSLSession;

/** Who is calling: the mesh identity from the mTLS handshake and the peer's IP address. */
record Caller(WorkloadIdentity identity, String peer) {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Caller.class);

    static final Context.Key<Caller> KEY = Context.key("trellis-caller");

    static Caller current() {
        return KEY.get();
    }

    /**
     * Puts the {@link Caller} into every call's context. A caller without a mesh identity is
     * refused, and so is one whose identity is outside the accepted trust domains: a
     * certificate for {@code spiffe://evil.example/ns/shop/sa/front} that chains to a
     * configured anchor is not {@code shop/front} (finding 10).
     */
    static final class Interceptor implements ServerInterceptor {
        private final java.util.List<IdentityPattern> accepted;
        private final DestinationMetrics metrics;

        Interceptor(java.util.Set<String> acceptedTrustDomains, DestinationMetrics metrics) {
            this.accepted = acceptedTrustDomains.stream().sorted().map(IdentityPattern::anyIn).toList();
            this.metrics = metrics;
        }

        @Override
        public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
            Optional<WorkloadIdentity> identity = session == null ? Optional.empty() : MeshSslContexts.peerIdentity(session);
            if (identity.isEmpty()) {
                call.close(Status.UNAUTHENTICATED.withDescription("destination: callers must present a mesh certificate"), new Metadata());
                return new ServerCall.Listener<>() { };
            }
            if (accepted.stream().noneMatch(pattern -> pattern.matches(identity.get()))) {
                metrics.limited.labelValues("foreign_trust_domain").inc();
                log.info("destination: refused {}: trust domain {} is not served here ({})", identity.get(), identity.get().trustDomain(), accepted);
                call.close(Status.PERMISSION_DENIED.withDescription("destination: " + identity.get() + " is outside the trust domains served here ("
                        + accepted.stream().map(p -> ((IdentityPattern.AnyInTrustDomain) p).trustDomain()).toList() + ")"), new Metadata());
                return new ServerCall.Listener<>() { };
            }
            SocketAddress remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
            String peer = remote instanceof InetSocketAddress inet && inet.getAddress() != null ? inet.getAddress().getHostAddress() : String.valueOf(remote);
            return Contexts.interceptCall(Context.current().withValue(KEY, new Caller(identity.get(), peer)), call, headers, next);
        }
    }
}
