package dev.trellis.proxy.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.proxy.balance.Balancer;
import dev.trellis.proxy.discovery.Discovery;
import dev.trellis.proxy.discovery.Endpoint;
import dev.trellis.proxy.discovery.RouteProfiles;
import dev.trellis.proxy.h2.H2Pair;
import dev.trellis.proxy.metrics.HttpMetrics;
import dev.trellis.proxy.transport.Deadlines;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.TestPki;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.wire.grpc.GrpcClient;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Error;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The outbound HTTP/1 path's layers — the connection's request handler and the exchange — on
 * embedded channels: the app's connection is one, each endpoint a client/server pair of
 * {@code H2Connection}s carrying real HTTP/2 frames ({@link H2Pair}), the endpoints the real
 * destination service's answer. No sockets on the request path, no proxies, no time waited:
 * the response timeout is reached by advancing the app connection's clock.
 */
class HttpOutboundTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final WorkloadIdentity DESTINATION = TestPki.identity("trellis", "trellis-destination");
    private static final String EMOJI_SVC = "emoji-svc.emojivoto.svc.cluster.local:8080";
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(3);

    @TempDir
    Path dir;

    private final List<AutoCloseable> closing = new ArrayList<>();
    private final Map<InetSocketAddress, H2Pair> endpoints = new LinkedHashMap<>();
    private MultiThreadIoEventLoopGroup loops;
    private ScheduledExecutorService callbacks;
    private FakeDestination destination;
    private Targets targets;
    private RouteProfiles profiles;
    private EmbeddedChannel app;

    @BeforeEach
    void setUp() throws Exception {
        TestPki pki = TestPki.create(dir);
        loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        callbacks = Executors.newSingleThreadScheduledExecutor();
        CredentialsStore credentials = new CredentialsStore(WEB, pki.trustAnchors(), Clock.systemUTC());
        credentials.install(pki.credentialsFor(WEB, Duration.ofHours(1)));
        destination = new FakeDestination(pki, DESTINATION);
        closing.add(destination::close);
        GrpcClient client = new GrpcClient(new GrpcClient.Config("127.0.0.1", destination.port(), DESTINATION.dnsName(),
                Optional.of(MeshSslContexts.forGrpcClient(pki.trustAnchors(), Optional.of(credentials), Clock.systemUTC())), loops,
                NioSocketChannel.class, callbacks, 1024 * 1024, Duration.ofSeconds(5)));
        Discovery discovery = new Discovery(client, callbacks, WEB.namespace(), Duration.ofMillis(100));
        closing.add(discovery);
        profiles = new RouteProfiles(client, callbacks, WEB.namespace());
        closing.add(profiles);
        targets = new Targets(discovery, profiles, credentials, Duration.ofSeconds(10));
    }

    @AfterEach
    void tearDown() throws Exception {
        if (app != null) {
            app.finishAndReleaseAll();
        }
        endpoints.values().forEach(H2Pair::close);
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
        callbacks.shutdownNow();
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    /** Endpoints at {@code ports} (each a fake endpoint pair), resolved through discovery, and the app's connection to the path. */
    private void connect(int... ports) throws Exception {
        List<dev.trellis.api.destination.v1.WeightedAddr> announced = new ArrayList<>();
        for (int port : ports) {
            endpoints.put(new InetSocketAddress("127.0.0.1", port), new H2Pair());
            announced.add(FakeDestination.endpoint("127.0.0.1", port, EMOJI, 4143));
        }
        destination.set(EMOJI_SVC, announced);
        CompletableFuture<Target> resolved = new CompletableFuture<>();
        targets.resolve(EMOJI_SVC, Runnable::run, resolved::complete);
        Target target = resolved.get(10, TimeUnit.SECONDS);
        assertThat(target).isInstanceOf(Target.Resolved.class);

        EndpointStreams.Connections fake = (Endpoint endpoint, EventLoop loop) -> {
            H2Pair pair = endpoints.get(endpoint.address());
            return pair.client.eventLoop().<Channel>newSucceededFuture(pair.client);
        };
        Map<EventLoop, Deadlines> wheels = new java.util.HashMap<>();
        HttpOutbound path = new HttpOutbound(targets, new EndpointStreams(Balancer.create(), fake), loop -> wheels.computeIfAbsent(loop, Deadlines::new),
                new HttpMetrics(new PrometheusRegistry()),
                REQUEST_TIMEOUT, Duration.ofSeconds(10), profiles, (client, t, host) -> client.close(), RetryBudgets.defaults());
        app = new EmbeddedChannel();
        app.freezeTime();
        path.install(app, Optional.of(target));
    }

    private void send(String request) {
        app.writeInbound(Unpooled.copiedBuffer(request, StandardCharsets.US_ASCII));
        settle();
    }

    /** Carries every frame between the endpoints' pairs and runs the app connection's tasks until nothing moves. */
    private void settle() {
        for (int round = 0; round < 5; round++) {
            app.runPendingTasks();
            endpoints.values().forEach(H2Pair::pump);
            app.runPendingTasks();
        }
    }

    /** What the app's connection was sent so far, as text. */
    private String received() {
        StringBuilder text = new StringBuilder();
        Object out;
        while ((out = app.readOutbound()) != null) {
            ByteBuf bytes = (ByteBuf) out;
            text.append(bytes.toString(StandardCharsets.US_ASCII));
            bytes.release();
        }
        return text.toString();
    }

    private H2Pair only() {
        return endpoints.values().iterator().next();
    }

    private static void answer(H2Pair.Accepted stream, int status, String body) {
        stream.stream.writeHeaders(new DefaultHttp2Headers().status(Integer.toString(status)).setInt("content-length", body.length()), false);
        stream.stream.writeData(Unpooled.copiedBuffer(body, StandardCharsets.US_ASCII), true);
        stream.stream.flush();
    }

    @Test
    void pipelinedRequestsGoOneAtATimeAndAreAnsweredInOrder() throws Exception {
        connect(8081);
        send("GET /one HTTP/1.1\r\nHost: emoji\r\n\r\nGET /two HTTP/1.1\r\nHost: emoji\r\n\r\n");
        H2Pair endpoint = only();
        assertThat(endpoint.accepted()).as("the second waits for the first's answer").hasSize(1);
        assertThat(endpoint.accepted().getFirst().events).containsExactly("headers /one end");
        assertThat(endpoint.accepted().getFirst().headers.getFirst().get("trellis-target-port")).hasToString("8081");

        answer(endpoint.accepted().getFirst(), 200, "first");
        settle();
        assertThat(endpoint.accepted()).hasSize(2);
        assertThat(endpoint.accepted().get(1).events).containsExactly("headers /two end");
        answer(endpoint.accepted().get(1), 201, "second");
        settle();

        String responses = received();
        assertThat(responses).startsWith("HTTP/1.1 200 OK\r\n").contains("first");
        assertThat(responses.indexOf("HTTP/1.1 201 Created")).isGreaterThan(responses.indexOf("first"));
        assertThat(responses).endsWith("second");
        assertThat(app.isOpen()).isTrue();
    }

    @Test
    void aClientThatExpects100ContinueGetsItFromTheEndpointThenSendsItsBody() throws Exception {
        connect(8081);
        send("POST /upload HTTP/1.1\r\nHost: emoji\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
        H2Pair.Accepted stream = only().accepted().getFirst();
        assertThat(stream.events).as("the head goes at once, the body is not there yet").containsExactly("headers /upload");
        assertThat(received()).isEmpty();

        stream.stream.writeHeaders(new DefaultHttp2Headers().status("100"), false);
        stream.stream.flush();
        settle();
        // Only the status line: the HTTP/2 conversion's own headers (x-http2-stream-id) leaked into it before.
        assertThat(received()).isEqualTo("HTTP/1.1 100 Continue\r\n\r\n");

        send("hello");
        assertThat(stream.events).containsExactly("headers /upload", "data 5 end");
        assertThat(stream.body.toString()).isEqualTo("hello");
        answer(stream, 200, "stored");
        settle();
        assertThat(received()).startsWith("HTTP/1.1 200 OK\r\n").endsWith("stored");
    }

    @Test
    void aRequestAnEndpointRefusedUnprocessedByGoAwayIsSentAgainElsewhereWhateverItsMethod() throws Exception {
        connect(8081, 8082);
        // Not idempotent: only "never processed" lets it go again.
        app.writeInbound(Unpooled.copiedBuffer("POST /vote HTTP/1.1\r\nHost: emoji\r\nContent-Length: 4\r\n\r\nlike", StandardCharsets.US_ASCII));
        app.runPendingTasks();
        // The first attempt's HEADERS wait in one endpoint's connection; that endpoint goes away before reading them.
        H2Pair first = endpoints.values().stream().filter(pair -> pair.client.outboundMessages().peek() != null).findFirst().orElseThrow();
        first.server.close();
        settle();

        assertThat(first.accepted()).as("the draining endpoint never saw it").isEmpty();
        H2Pair second = endpoints.values().stream().filter(pair -> pair != first).findFirst().orElseThrow();
        assertThat(second.accepted()).hasSize(1);
        H2Pair.Accepted resent = second.accepted().getFirst();
        assertThat(resent.events).containsExactly("headers /vote", "data 4 end");
        assertThat(resent.body.toString()).isEqualTo("like");
        answer(resent, 200, "counted");
        settle();
        assertThat(received()).startsWith("HTTP/1.1 200 OK\r\n").endsWith("counted");
    }

    @Test
    void anEndpointThatDoesNotAnswerWithinTheRequestTimeoutGets504AndItsStreamIsReset() throws Exception {
        connect(8081);
        send("GET /slow HTTP/1.1\r\nHost: emoji\r\n\r\n");
        H2Pair.Accepted stream = only().accepted().getFirst();
        assertThat(stream.events).containsExactly("headers /slow end");

        app.advanceTimeBy(REQUEST_TIMEOUT.toMillis() - 100, TimeUnit.MILLISECONDS);
        app.runScheduledPendingTasks();
        settle();
        assertThat(received()).as("not before the timeout").isEmpty();

        app.advanceTimeBy(200, TimeUnit.MILLISECONDS);
        app.runScheduledPendingTasks();
        settle();
        String response = received();
        assertThat(response).startsWith("HTTP/1.1 504 Gateway Timeout\r\n").contains("trellis-proxy-error: ");
        assertThat(stream.events).containsExactly("headers /slow end", "reset " + Http2Error.CANCEL.code(), "closed");
        // The connection goes on: the request was read whole.
        assertThat(app.isOpen()).isTrue();
    }
}
