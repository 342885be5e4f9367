package dev.trellis.viz.web;

import static java.util.Objects.requireNonNull;

import dev.trellis.admin.BoundedHttpListener;
import dev.trellis.viz.ControlPlaneStatus;
import dev.trellis.viz.Viz;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Clock;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The dashboard's web server: a {@link BoundedHttpListener} (bounded request line, headers and
 * body, a request deadline a trickling client cannot extend, a bounded number of connections)
 * in front of {@link Dashboard}, which runs on a virtual thread per request (a namespace check
 * may be an API call), and {@link LiveStream} for live tap. Plain HTTP on loopback: on
 * Kubernetes it is reached through a port-forward.
 */
public final class DashboardServer implements AutoCloseable {

    private final EventLoopGroup group;
    private final ExecutorService requests;
    private final BoundedHttpListener listener;
    private final Sessions sessions;

    private DashboardServer(EventLoopGroup group, ExecutorService requests, BoundedHttpListener listener, Sessions sessions) {
        this.group = group;
        this.requests = requests;
        this.listener = listener;
        this.sessions = sessions;
    }

    /**
     * Listens as {@code config} says. Logins are the codes {@code codes} minted; pages show
     * {@code viz}'s data and {@code controlPlane}'s checks.
     *
     * @throws IllegalStateException naming the address when it cannot listen
     */
    public static DashboardServer start(DashboardConfig config, Viz viz, LoginCodes codes, ControlPlaneStatus controlPlane, String trustDomain,
                                        Clock clock) {
        return start(config, viz, codes, Logins.NONE, controlPlane, trustDomain, clock);
    }

    /** As above; {@code logins} also lets a user trade their own token for a login link ({@code POST /login/token}). */
    public static DashboardServer start(DashboardConfig config, Viz viz, LoginCodes codes, Logins logins, ControlPlaneStatus controlPlane,
                                        String trustDomain, Clock clock) {
        return start(config, viz, codes, logins, controlPlane, trustDomain, new io.prometheus.metrics.model.registry.PrometheusRegistry(), clock);
    }

    /** As above, with the dashboard's counters ({@link DashboardMetrics}) in {@code registry}: an admin listener's, which serves them. */
    public static DashboardServer start(DashboardConfig config, Viz viz, LoginCodes codes, Logins logins, ControlPlaneStatus controlPlane,
                                        String trustDomain, io.prometheus.metrics.model.registry.PrometheusRegistry registry, Clock clock) {
        requireNonNull(config, "config");
        Sessions sessions = new Sessions(config, clock);
        Assets assets = new Assets();
        DashboardApi api = new DashboardApi(viz, controlPlane, trustDomain, clock);
        LiveStream live = new LiveStream(viz, config, sessions);
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        ExecutorService requests = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("trellis-dashboard-", 0).factory());
        java.util.concurrent.atomic.AtomicReference<Dashboard> dashboard = new java.util.concurrent.atomic.AtomicReference<>();
        BoundedHttpListener listener;
        try {
            listener = BoundedHttpListener.startStreaming("dashboard", group, config.listen(), Optional.empty(),
                    new BoundedHttpListener.Limits(4096, config.maxHeaderBytes(), config.maxRequestBytes(), config.maxConnections(), config.requestDeadline()),
                    (request, peer) -> {
                        WebRequest web = webRequest(request, peer);
                        return CompletableFuture.supplyAsync(() -> switch (dashboard.get().handle(web)) {
                            case WebAnswer answer -> reply(answer);
                            case Dashboard.LiveStart start -> live.open(start);
                        }, requests);
                    });
        } catch (RuntimeException e) {
            group.shutdownGracefully();
            requests.shutdownNow();
            throw e;
        }
        // The cookie is named after the port: two dashboards on one host (two demos) keep their sessions apart.
        dashboard.set(new Dashboard(config, sessions, codes, logins, assets, api, new DashboardMetrics(registry), "trellis-session-" + listener.address().getPort()));
        return new DashboardServer(group, requests, listener, sessions);
    }

    public InetSocketAddress address() {
        return listener.address();
    }

    /** The dashboard's address as a browser on this host opens it. */
    public URI url() {
        return URI.create("http://127.0.0.1:" + address().getPort() + "/");
    }

    /** The link that spends {@code code}: opening it logs in. */
    public URI loginLink(String code) {
        return url().resolve("login?code=" + code);
    }

    /** Sessions live now. */
    public int sessions() {
        return sessions.live();
    }

    @Override
    public void close() {
        listener.close();
        requests.shutdownNow();
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
    }

    private static WebRequest webRequest(FullHttpRequest request, InetSocketAddress peer) {
        Map<String, String> headers = new HashMap<>();
        request.headers().forEach(h -> headers.putIfAbsent(h.getKey().toLowerCase(Locale.ROOT), h.getValue()));
        return WebRequest.of(request.method().name(), request.uri(), headers, ByteBufUtil.getBytes(request.content()), peer.getAddress());
    }

    static BoundedHttpListener.Reply reply(WebAnswer answer) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(answer.status()),
                Unpooled.wrappedBuffer(answer.body()));
        securityHeaders(response.headers());
        response.headers().set("Content-Type", answer.contentType());
        answer.headers().forEach(response.headers()::set);
        return new BoundedHttpListener.Reply.Whole(response);
    }

    static void securityHeaders(HttpHeaders headers) {
        WebAnswer.SECURITY_HEADERS.forEach(headers::set);
    }
}
