package dev.trellis.testing;

import com.google.protobuf.ByteString;
import dev.trellis.api.destination.v1.AddrSet;
import dev.trellis.api.destination.v1.DestinationGrpc;
import dev.trellis.api.destination.v1.GetDestination;
import dev.trellis.api.destination.v1.NoEndpoints;
import dev.trellis.api.destination.v1.TcpAddress;
import dev.trellis.api.destination.v1.TlsIdentity;
import dev.trellis.api.destination.v1.Update;
import dev.trellis.api.destination.v1.WeightedAddr;
import dev.trellis.api.destination.v1.WeightedAddrSet;
import dev.trellis.api.policy.v1.EgressPolicy;
import dev.trellis.api.policy.v1.PolicyGrpc;
import dev.trellis.api.policy.v1.Workload;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.netty.handler.ssl.ClientAuth;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A destination service for tests, on the real generated stubs and real mTLS: it serves
 * whatever endpoints the test sets, pushing changes to open {@code Get} streams as adds and
 * removes. Stands in until the destination service exists (and for fault tests after).
 */
public final class FakeDestination implements AutoCloseable {

    private final Server server;
    private final Map<String, List<WeightedAddr>> endpoints = new HashMap<>();
    private final Map<String, List<StreamObserver<Update>>> streams = new HashMap<>();
    private final CopyOnWriteArrayList<String> requested = new CopyOnWriteArrayList<>();
    private final List<StreamObserver<EgressPolicy>> egressStreams = new ArrayList<>();
    private EgressPolicy egress;

    /** Starts on 127.0.0.1 with a port of its own, presenting {@code identity}'s certificate. */
    public FakeDestination(TestPki pki, WorkloadIdentity identity) throws IOException {
        this(pki, identity, "127.0.0.1");
    }

    /** Starts on {@code host} ("0.0.0.0" for every interface, e.g. for network-namespace tests). */
    public FakeDestination(TestPki pki, WorkloadIdentity identity, String host) throws IOException {
        CredentialsStore store = new CredentialsStore(identity, pki.trustAnchors(), Clock.systemUTC());
        try {
            store.install(pki.credentialsFor(identity, Duration.ofHours(1)));
            server = NettyServerBuilder.forAddress(new InetSocketAddress(host, 0))
                    .sslContext(MeshSslContexts.forGrpcServer(store, ClientAuth.REQUIRE, Clock.systemUTC()))
                    .addService(new Service())
                    .addService(new Policies())
                    .build()
                    .start();
        } catch (java.security.cert.CertificateException e) {
            throw new IOException(e);
        }
    }

    public int port() {
        return ((InetSocketAddress) server.getListenSockets().getFirst()).getPort();
    }

    /** Authorities asked for so far, in order. */
    public List<String> requested() {
        return List.copyOf(requested);
    }

    /** Replaces the endpoints of {@code authority} and tells open streams. */
    public synchronized void set(String authority, List<WeightedAddr> next) {
        List<WeightedAddr> previous = endpoints.getOrDefault(authority, List.of());
        endpoints.put(authority, List.copyOf(next));
        List<TcpAddress> removed = new ArrayList<>();
        for (WeightedAddr old : previous) {
            if (next.stream().noneMatch(n -> n.getAddr().equals(old.getAddr()))) {
                removed.add(old.getAddr());
            }
        }
        for (StreamObserver<Update> stream : streams.getOrDefault(authority, List.of())) {
            if (!removed.isEmpty()) {
                stream.onNext(Update.newBuilder().setRemove(AddrSet.newBuilder().addAllAddrs(removed)).build());
            }
            stream.onNext(next.isEmpty()
                    ? Update.newBuilder().setNoEndpoints(NoEndpoints.newBuilder().setExists(true)).build()
                    : Update.newBuilder().setAdd(WeightedAddrSet.newBuilder().addAllAddrs(next)).build());
        }
    }

    /** Serves {@code policy} to every {@code WatchEgress} stream, open and future. */
    public synchronized void setEgress(EgressPolicy policy) {
        egress = policy;
        egressStreams.forEach(stream -> stream.onNext(policy));
    }

    /** An endpoint on {@code ip:port}, meshed with {@code identity} and its proxy's inbound port (0: not meshed). */
    public static WeightedAddr endpoint(String ip, int port, WorkloadIdentity identity, int proxyInboundPort) {
        try {
            WeightedAddr.Builder addr = WeightedAddr.newBuilder()
                    .setAddr(TcpAddress.newBuilder().setIp(ByteString.copyFrom(InetAddress.getByName(ip).getAddress())).setPort(port))
                    .setWeight(1)
                    .setProxyInboundPort(proxyInboundPort)
                    .putMetricLabels("pod", "pod-" + port);
            if (identity != null) {
                addr.setTlsIdentity(TlsIdentity.newBuilder().setSpiffeId(identity.spiffeId()).setDnsName(identity.dnsName()));
            }
            return addr.build();
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** As {@link #endpoint}, with discovery's hint that the port speaks opaque TCP (a server-speaks-first protocol, say). */
    public static WeightedAddr opaqueEndpoint(String ip, int port, WorkloadIdentity identity, int proxyInboundPort) {
        return endpoint(ip, port, identity, proxyInboundPort).toBuilder()
                .setProtocolHint(dev.trellis.api.destination.v1.ProtocolHint.newBuilder().setProtocol(dev.trellis.api.destination.v1.ProtocolHint.Protocol.OPAQUE))
                .build();
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
    }

    private final class Service extends DestinationGrpc.DestinationImplBase {
        @Override
        public void get(GetDestination request, StreamObserver<Update> responses) {
            String authority = request.getAuthority();
            requested.add(authority);
            synchronized (FakeDestination.this) {
                List<WeightedAddr> known = endpoints.get(authority);
                if (known == null || known.isEmpty()) {
                    responses.onNext(Update.newBuilder().setNoEndpoints(NoEndpoints.newBuilder().setExists(known != null)).build());
                } else {
                    responses.onNext(Update.newBuilder().setAdd(WeightedAddrSet.newBuilder().addAllAddrs(known)).build());
                }
                streams.computeIfAbsent(authority, a -> new ArrayList<>()).add(responses);
            }
            ((ServerCallStreamObserver<Update>) responses).setOnCancelHandler(() -> {
                synchronized (FakeDestination.this) {
                    streams.getOrDefault(authority, new ArrayList<>()).remove(responses);
                }
            });
        }

        /** Every authority has a profile without routes, as the real service answers for a Service without any; the stream stays open. */
        @Override
        public void getProfile(GetDestination request, StreamObserver<dev.trellis.api.destination.v1.Profile> responses) {
            responses.onNext(dev.trellis.api.destination.v1.Profile.newBuilder().setFullyQualifiedName(request.getAuthority()).build());
        }
    }

    /** Egress policy as the test sets it; inbound policy is not served (proxies fall back to their flags). */
    private final class Policies extends PolicyGrpc.PolicyImplBase {
        @Override
        public void watchEgress(Workload request, StreamObserver<EgressPolicy> responses) {
            synchronized (FakeDestination.this) {
                if (egress != null) {
                    responses.onNext(egress);
                }
                egressStreams.add(responses);
            }
            ((ServerCallStreamObserver<EgressPolicy>) responses).setOnCancelHandler(() -> {
                synchronized (FakeDestination.this) {
                    egressStreams.remove(responses);
                }
            });
        }
    }
}
