package dev.trellis.destination;

import dev.trellis.api.destination.v1.DestinationGrpc;
import dev.trellis.api.policy.v1.PolicyGrpc;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.testing.TestPki;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/** A destination server on loopback over a given cluster source, and mTLS channels to it as any identity. */
final class DestinationFixture implements AutoCloseable {

    final TestPki pki;
    final DestinationServer server;
    private final List<ManagedChannel> channels = new ArrayList<>();

    DestinationFixture(Path dir, ClusterSource source, UnaryOperator<DestinationServerConfig> tune) throws Exception {
        pki = TestPki.create(dir);
        DestinationServerConfig config = tune.apply(DestinationServerConfig.builder(TestPki.TRUST_DOMAIN)
                .listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0)).build());
        CredentialsStore credentials = new CredentialsStore(config.identity(), pki.trustAnchors(), Clock.systemUTC());
        credentials.install(pki.credentialsFor(config.identity(), Duration.ofHours(1)));
        server = DestinationServer.start(config, source, credentials, Clock.systemUTC());
    }

    ManagedChannel channel(WorkloadIdentity caller) throws Exception {
        CredentialsStore store = new CredentialsStore(caller, pki.trustAnchors(), Clock.systemUTC());
        store.install(pki.credentialsFor(caller, Duration.ofHours(1)));
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcAddress().getPort())
                .sslContext(MeshSslContexts.forGrpcClient(pki.trustAnchors(), Optional.of(store), Clock.systemUTC()))
                .overrideAuthority(dev.trellis.core.identity.ControlPlaneComponent.DESTINATION.identity(TestPki.TRUST_DOMAIN).dnsName())
                .build();
        channels.add(channel);
        return channel;
    }

    DestinationGrpc.DestinationStub destination(WorkloadIdentity caller) throws Exception {
        return DestinationGrpc.newStub(channel(caller));
    }

    PolicyGrpc.PolicyBlockingStub policy(WorkloadIdentity caller) throws Exception {
        return PolicyGrpc.newBlockingStub(channel(caller));
    }

    @Override
    public void close() {
        channels.forEach(ManagedChannel::shutdownNow);
        server.close();
    }
}
