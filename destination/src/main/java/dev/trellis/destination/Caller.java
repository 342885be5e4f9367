package dev.trellis.destination;

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

    static final Context.Key<Caller> KEY = Context.key("trellis-caller");

    static Caller current() {
        return KEY.get();
    }

    /** Puts the {@link Caller} into every call's context; a caller without a mesh identity is refused. */
    static final class Interceptor implements ServerInterceptor {
        @Override
        public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
            Optional<WorkloadIdentity> identity = session == null ? Optional.empty() : MeshSslContexts.peerIdentity(session);
            if (identity.isEmpty()) {
                call.close(Status.UNAUTHENTICATED.withDescription("destination: callers must present a mesh certificate"), new Metadata());
                return new ServerCall.Listener<>() { };
            }
            SocketAddress remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
            String peer = remote instanceof InetSocketAddress inet && inet.getAddress() != null ? inet.getAddress().getHostAddress() : String.valueOf(remote);
            return Contexts.interceptCall(Context.current().withValue(KEY, new Caller(identity.get(), peer)), call, headers, next);
        }
    }
}
