package dev.trellis.proxy.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.proxy.discovery.Discovery;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.TestPki;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.wire.grpc.GrpcClient;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one place the outbound side asks discovery, against a real destination service (gRPC over mTLS). */
class TargetsTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final WorkloadIdentity DESTINATION = TestPki.identity("trellis", "trellis-destination");
    private static final String EMOJI_SVC = "emoji-svc.emojivoto.svc.cluster.local:8080";

    @TempDir
    Path dir;

    private TestPki pki;
    private MultiThreadIoEventLoopGroup loops;
    private ScheduledExecutorService callbacks;
    private CredentialsStore credentials;
    private final List<AutoCloseable> closing = new java.util.ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        pki = TestPki.create(dir);
        loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        callbacks = Executors.newSingleThreadScheduledExecutor();
        credentials = new CredentialsStore(WEB, pki.trustAnchors(), Clock.systemUTC());
        credentials.install(pki.credentialsFor(WEB, Duration.ofHours(1)));
    }

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
        callbacks.shutdownNow();
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    @Test
    void anAnsweredAuthorityIsResolvedAndThenAnsweredOnTheCallersThread() throws Exception {
        FakeDestination destination = destination();
        destination.set(EMOJI_SVC, List.of(FakeDestination.endpoint("127.0.0.1", 8080, EMOJI, 4143)));
        Targets targets = targets(destination.port(), Duration.ofSeconds(10));

        Target first = resolve(targets, EMOJI_SVC).get(10, TimeUnit.SECONDS);
        assertThat(first).isInstanceOf(Target.Resolved.class);
        assertThat(((Target.Resolved) first).endpoints().meshed()).hasSize(1);

        // Answered now: no timer and no hop to the loop (an executor that would fail the test).
        AtomicReference<Thread> answeredOn = new AtomicReference<>();
        targets.resolve(EMOJI_SVC, task -> {
            throw new AssertionError("an answered authority hopped to the loop");
        }, target -> answeredOn.set(Thread.currentThread()));
        assertThat(answeredOn.get()).isSameAs(Thread.currentThread());
    }

    @Test
    void noAnswerWithinTheTimeoutIsAValueThatNamesTheAuthority() throws Exception {
        int nobody;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            nobody = socket.getLocalPort();
        }
        Targets targets = targets(nobody, Duration.ofMillis(300));

        Target target = resolve(targets, EMOJI_SVC).get(10, TimeUnit.SECONDS);

        assertThat(target).isInstanceOf(Target.Unresolved.class);
        Target.Unresolved unresolved = (Target.Unresolved) target;
        assertThat(unresolved.why().error()).isEqualTo(ProxyError.RESOLVE_TIMEOUT);
        assertThat(unresolved.why().getMessage()).isEqualTo("no answer from discovery, route profiles or identity for " + EMOJI_SVC + " within PT0.3S");
    }

    @Test
    void aConnectionKeepsItsResolvedTargetAndForgetsAFailureAfterAnsweringWithIt() throws Exception {
        FakeDestination destination = destination();
        destination.set(EMOJI_SVC, List.of(FakeDestination.endpoint("127.0.0.1", 8080, EMOJI, 4143)));
        Targets targets = targets(destination.port(), Duration.ofSeconds(10));
        Target resolved = resolve(targets, EMOJI_SVC).get(10, TimeUnit.SECONDS);

        // The listener's target serves every request for its authority: the same value, not a second question.
        Targets.OfConnection connection = targets.ofConnection(Optional.of(resolved));
        assertThat(resolve(connection, EMOJI_SVC).get(10, TimeUnit.SECONDS)).isSameAs(resolved);
        assertThat(resolve(connection, EMOJI_SVC).get(10, TimeUnit.SECONDS)).isSameAs(resolved);
        // Another authority on the same connection (an explicit-proxy client) is resolved, and then kept.
        Target other = resolve(connection, "web-svc.emojivoto.svc.cluster.local:80").get(10, TimeUnit.SECONDS);
        assertThat(other).isInstanceOf(Target.Resolved.class).isNotSameAs(resolved);
        assertThat(resolve(connection, "web-svc.emojivoto.svc.cluster.local:80").get(10, TimeUnit.SECONDS)).isSameAs(other);

        // A failure the listener met answers the first request with its reason; the next request asks again.
        Target.Unresolved failed = new Target.Unresolved(EMOJI_SVC, ProxyError.RESOLVE_TIMEOUT.because("no answer"));
        Targets.OfConnection unlucky = targets.ofConnection(Optional.of(failed));
        assertThat(resolve(unlucky, EMOJI_SVC).get(10, TimeUnit.SECONDS)).isSameAs(failed);
        assertThat(resolve(unlucky, EMOJI_SVC).get(10, TimeUnit.SECONDS)).isInstanceOf(Target.Resolved.class);
    }

    private FakeDestination destination() throws Exception {
        FakeDestination destination = new FakeDestination(pki, DESTINATION);
        closing.add(destination::close);
        return destination;
    }

    private Targets targets(int destinationPort, Duration timeout) throws Exception {
        GrpcClient client = new GrpcClient(new GrpcClient.Config("127.0.0.1", destinationPort, DESTINATION.dnsName(),
                Optional.of(MeshSslContexts.forGrpcClient(pki.trustAnchors(), Optional.of(credentials), Clock.systemUTC())), loops,
                NioSocketChannel.class, callbacks, 1024 * 1024, Duration.ofSeconds(5)));
        Discovery discovery = new Discovery(client, callbacks, WEB.namespace(), Duration.ofMillis(100));
        closing.add(discovery);
        dev.trellis.proxy.discovery.RouteProfiles profiles = new dev.trellis.proxy.discovery.RouteProfiles(client, callbacks, WEB.namespace());
        closing.add(profiles);
        return new Targets(discovery, profiles, credentials, timeout);
    }

    private CompletableFuture<Target> resolve(Targets targets, String authority) {
        CompletableFuture<Target> answer = new CompletableFuture<>();
        targets.resolve(authority, loops.next(), answer::complete);
        return answer;
    }

    private CompletableFuture<Target> resolve(Targets.OfConnection connection, String authority) {
        CompletableFuture<Target> answer = new CompletableFuture<>();
        // Confined to the connection's loop, as in the proxy.
        loops.next().execute(() -> connection.resolve(authority, loops.next(), answer::complete));
        return answer;
    }
}
