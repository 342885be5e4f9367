package dev.trellis.injector.webhook;

import dev.trellis.admin.BoundedHttpListener;
import dev.trellis.core.net.HostPort;
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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code trellis injector}'s HTTPS listener: {@code POST /inject} with an AdmissionReview,
 * answered by {@link AdmissionHandler} off the event loop. Bounded as every Trellis listener:
 * 4 MiB bodies (a Pod is at most 1.5 MB in etcd, and a review may hold two), 16 KiB of
 * headers, 10 s for a whole request, 256 connections. Anything but {@code POST /inject} is
 * a 404 or 405; a body that is not an AdmissionReview a 400 naming why.
 */
public final class InjectorServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(InjectorServer.class);
    static final int MAX_BODY_BYTES = 4 << 20;
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    private final EventLoopGroup group;
    private final ExecutorService work;
    private final BoundedHttpListener listener;
    private final ReloadingServerTls tls;

    private InjectorServer(EventLoopGroup group, ExecutorService work, BoundedHttpListener listener, ReloadingServerTls tls) {
        this.group = group;
        this.work = work;
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
        ExecutorService work = Executors.newVirtualThreadPerTaskExecutor();
        try {
            BoundedHttpListener listener = BoundedHttpListener.start("injector webhook", group, listen, Optional.of(tls),
                    new BoundedHttpListener.Limits(4096, 16384, MAX_BODY_BYTES, 256, Duration.ofSeconds(10)),
                    (request, peer) -> route(request, handler, work));
            log.info("injector: webhook listening on {} (HTTPS, certificate {})", listener.address(), certificate);
            return new InjectorServer(group, work, listener, tls);
        } catch (RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            work.shutdownNow();
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

    private static CompletableFuture<FullHttpResponse> route(FullHttpRequest request, AdmissionHandler handler, ExecutorService work) {
        String path = new QueryStringDecoder(request.uri()).path();
        if (!path.equals("/inject")) {
            return CompletableFuture.completedFuture(text(HttpResponseStatus.NOT_FOUND, "not found: the webhook answers POST /inject\n"));
        }
        if (!request.method().equals(HttpMethod.POST)) {
            return CompletableFuture.completedFuture(text(HttpResponseStatus.METHOD_NOT_ALLOWED, "POST an AdmissionReview to /inject\n"));
        }
        byte[] body = ByteBufUtil.getBytes(request.content());
        return CompletableFuture.supplyAsync(() -> {
            try {
                return BoundedHttpListener.text(HttpResponseStatus.OK, "application/json", SERIALIZATION.asJson(handler.review(body)));
            } catch (AdmissionHandler.BadReviewException e) {
                return text(HttpResponseStatus.BAD_REQUEST, "injector: " + e.getMessage() + "\n");
            }
        }, work);
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body) {
        return BoundedHttpListener.text(status, "text/plain", body);
    }

    @Override
    public void close() {
        listener.close();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        work.shutdownNow();
    }
}
