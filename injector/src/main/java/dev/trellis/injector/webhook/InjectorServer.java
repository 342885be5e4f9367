package dev.trellis.injector.webhook;

import dev.trellis.admin.BoundedHttpListener;
import dev.trellis.core.net.HostPort;
import dev.trellis.core.time.DurationText;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code trellis injector}'s HTTPS listener: {@code POST /inject} with an AdmissionReview,
 * answered by {@link AdmissionHandler} off the event loop, within the time the API server
 * gives the call (its {@code ?timeout=} parameter, less a margin for the way back; 10 s when
 * absent, 1–30 s as the API allows). Bounded as every Trellis listener: 4 MiB bodies (a Pod is
 * at most 1.5 MB in etcd, and a review may hold two), 16 KiB of headers, 10 s for a whole
 * request, 256 connections. Anything but {@code POST /inject} is a 404 or 405; a body that is
 * not an AdmissionReview a 400 naming why.
 */
public final class InjectorServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(InjectorServer.class);
    static final int MAX_BODY_BYTES = 4 << 20;
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    /** The webhook's timeout when the API server names none (the installed configuration's). */
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    private final EventLoopGroup group;
    private final BoundedHttpListener listener;
    private final ReloadingServerTls tls;

    private InjectorServer(EventLoopGroup group, BoundedHttpListener listener, ReloadingServerTls tls) {
        this.group = group;
        this.listener = listener;
        this.tls = tls;
    }

    /** Listens on {@code listen} with the certificate and key in those files (looked at every 5 s, reloaded when they change). */
    public static InjectorServer start(HostPort listen, Path certificate, Path key, AdmissionHandler handler) throws IOException {
        return start(listen, certificate, key, handler, Duration.ofSeconds(5));
    }

    static InjectorServer start(HostPort listen, Path certificate, Path key, AdmissionHandler handler, Duration reloadCheck) throws IOException {
        ReloadingServerTls tls = new ReloadingServerTls(certificate, key, reloadCheck.toMillis());
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            BoundedHttpListener listener = BoundedHttpListener.start("injector webhook", group, listen, Optional.of(tls),
                    new BoundedHttpListener.Limits(4096, 16384, MAX_BODY_BYTES, 256, Duration.ofSeconds(10)),
                    (request, peer) -> route(request, handler));
            log.info("injector: webhook listening on {} (HTTPS, certificate {})", listener.address(), certificate);
            return new InjectorServer(group, listener, tls);
        } catch (RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
    }

    public InetSocketAddress address() {
        return listener.address();
    }

    /** For {@code /ready}: empty while the webhook serves a certificate valid now, else why not. */
    public java.util.Optional<String> notReadyReason() {
        return tls.problem(java.time.Instant.now());
    }

    private static CompletableFuture<FullHttpResponse> route(FullHttpRequest request, AdmissionHandler handler) {
        QueryStringDecoder uri = new QueryStringDecoder(request.uri());
        String path = uri.path();
        if (!path.equals("/inject")) {
            return CompletableFuture.completedFuture(text(HttpResponseStatus.NOT_FOUND, "not found: the webhook answers POST /inject\n"));
        }
        if (!request.method().equals(HttpMethod.POST)) {
            return CompletableFuture.completedFuture(text(HttpResponseStatus.METHOD_NOT_ALLOWED, "POST an AdmissionReview to /inject\n"));
        }
        byte[] body = ByteBufUtil.getBytes(request.content());
        Duration budget = budget(uri.parameters().getOrDefault("timeout", java.util.List.of()).stream().findFirst());
        try {
            return handler.review(body, budget)
                    .thenApply(answer -> BoundedHttpListener.text(HttpResponseStatus.OK, "application/json", SERIALIZATION.asJson(answer)));
        } catch (AdmissionHandler.BadReviewException e) {
            return CompletableFuture.completedFuture(text(HttpResponseStatus.BAD_REQUEST, "injector: " + e.getMessage() + "\n"));
        }
    }

    /**
     * How long an answer may take: the API server's timeout for the call ({@code 10s}; 1–30 s,
     * {@link #DEFAULT_TIMEOUT} when absent or unreadable) less a fifth of it, at least a second,
     * for the answer's way back — but never less than half of it.
     */
    static Duration budget(Optional<String> timeout) {
        Duration given = DEFAULT_TIMEOUT;
        if (timeout.isPresent()) {
            try {
                given = DurationText.parse(timeout.get());
            } catch (IllegalArgumentException e) {
                log.debug("injector: the API server's timeout '{}' is not a duration; using {}", timeout.get(), DEFAULT_TIMEOUT);
            }
        }
        given = given.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : given.compareTo(Duration.ofSeconds(30)) > 0 ? Duration.ofSeconds(30) : given;
        Duration margin = given.dividedBy(5).compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : given.dividedBy(5);
        Duration budget = given.minus(margin);
        return budget.compareTo(given.dividedBy(2)) < 0 ? given.dividedBy(2) : budget;
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body) {
        return BoundedHttpListener.text(status, "text/plain", body);
    }

    @Override
    public void close() {
        listener.close();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
