package dev.trellis.proxy.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.api.policy.v1.EgressPolicy;
import dev.trellis.api.policy.v1.PolicyGrpc;
import dev.trellis.api.policy.v1.Workload;
import dev.trellis.wire.grpc.GrpcClient;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The one control-plane stream mechanism, against a real gRPC server on loopback whose
 * {@code WatchEgress} calls the test drives one by one: reconnects keep the last answer,
 * a new call's first message is announced, waits for a first answer run out once, and
 * closing cancels the call on the server and stops reconnecting.
 */
class StreamWatchTest {

    private static final Workload WEB = Workload.newBuilder().setNamespace("emojivoto").setName("web").build();

    private final BlockingQueue<ServerCallStreamObserver<EgressPolicy>> calls = new LinkedBlockingQueue<>();
    private final AtomicInteger callCount = new AtomicInteger();
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    private Server server;
    private final EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private GrpcClient client;

    @BeforeEach
    void start() throws Exception {
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new PolicyGrpc.PolicyImplBase() {
            @Override
            public void watchEgress(Workload request, StreamObserver<EgressPolicy> responses) {
                callCount.incrementAndGet();
                calls.add((ServerCallStreamObserver<EgressPolicy>) responses);
            }
        }).build().start();
        client = new GrpcClient(new GrpcClient.Config("127.0.0.1", server.getPort(), "destination.test", Optional.empty(), loop,
                NioSocketChannel.class, scheduler, 1024 * 1024, Duration.ofSeconds(5)));
    }

    @AfterEach
    void stop() throws Exception {
        client.close();
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        scheduler.shutdownNow();
    }

    private static dev.trellis.wire.policy.EgressPolicy wire(EgressPolicy.Mode mode) {
        return dev.trellis.proxy.WireMessages.read(policy(mode), dev.trellis.wire.policy.EgressPolicy::read);
    }

    private static EgressPolicy policy(EgressPolicy.Mode mode) {
        return EgressPolicy.newBuilder().setMode(mode).build();
    }

    private StreamWatch<dev.trellis.wire.policy.EgressPolicy> watch(StreamWatch.Updates<dev.trellis.wire.policy.EgressPolicy> updates) {
        return new StreamWatch<>("egress policy of emojivoto/web", listener -> client.serverStream(dev.trellis.wire.policy.PolicyService.WATCH_EGRESS,
                        new dev.trellis.wire.policy.Workload(WEB.getNamespace(), WEB.getName()), dev.trellis.wire.policy.EgressPolicy::read, listener), updates,
                new StreamWatch.Reconnect(scheduler, Duration.ofMillis(20)));
    }

    private ServerCallStreamObserver<EgressPolicy> nextCall() throws InterruptedException {
        ServerCallStreamObserver<EgressPolicy> call = calls.poll(10, TimeUnit.SECONDS);
        assertThat(call).as("a call of the watch reached the server").isNotNull();
        return call;
    }

    @Test
    void aBrokenOrEndedStreamIsReopenedWhileTheLastAnswerStaysInForce() throws Exception {
        List<String> told = new CopyOnWriteArrayList<>();
        try (StreamWatch<dev.trellis.wire.policy.EgressPolicy> watch = watch(new StreamWatch.Updates<>() {
            @Override
            public void next(dev.trellis.wire.policy.EgressPolicy message) {
                told.add(message.mode().name());
            }

            @Override
            public void callStarted() {
                told.add("call");
            }
        }).start()) {
            ServerCallStreamObserver<EgressPolicy> first = nextCall();
            first.onNext(policy(EgressPolicy.Mode.DENY));
            await().atMost(Duration.ofSeconds(10)).until(() -> watch.latest().isPresent());

            first.onError(Status.UNAVAILABLE.withDescription("destination restarting").asRuntimeException());
            ServerCallStreamObserver<EgressPolicy> second = nextCall();
            assertThat(watch.latest()).as("the last answer, while the new call has said nothing").contains(wire(EgressPolicy.Mode.DENY));

            second.onNext(policy(EgressPolicy.Mode.AUDIT));
            await().atMost(Duration.ofSeconds(10)).until(() -> watch.latest().equals(Optional.of(wire(EgressPolicy.Mode.AUDIT))));
            second.onCompleted();
            nextCall().onNext(policy(EgressPolicy.Mode.ALLOW));
            await().atMost(Duration.ofSeconds(10)).until(() -> told.size() == 6);
            assertThat(told).containsExactly("call", "DENY", "call", "AUDIT", "call", "ALLOW");
        }
    }

    @Test
    void aStreamRefusedBeforeItsFirstAnswerIsAskedAgain() throws Exception {
        try (StreamWatch<dev.trellis.wire.policy.EgressPolicy> watch = watch(StreamWatch.Updates.latestOnly()).start()) {
            nextCall().onError(Status.NOT_FOUND.withDescription("no pod emojivoto/web yet").asRuntimeException());
            nextCall().onError(Status.PERMISSION_DENIED.asRuntimeException());
            nextCall().onNext(policy(EgressPolicy.Mode.DENY));
            await().atMost(Duration.ofSeconds(10)).until(() -> watch.latest().isPresent());
        }
    }

    @Test
    void aWaitForTheFirstAnswerRunsOutOnceAndLaterCallersTakeTheirFallbackAtOnce() throws Exception {
        try (StreamWatch<dev.trellis.wire.policy.EgressPolicy> watch = watch(StreamWatch.Updates.latestOnly()).start()) {
            ServerCallStreamObserver<EgressPolicy> call = nextCall();
            CompletableFuture<Optional<dev.trellis.wire.policy.EgressPolicy>> waited = new CompletableFuture<>();
            watch.whenKnown(Duration.ofMillis(100), Runnable::run, waited::complete);
            assertThat(waited.get(10, TimeUnit.SECONDS)).isEmpty();

            CompletableFuture<Optional<dev.trellis.wire.policy.EgressPolicy>> later = new CompletableFuture<>();
            watch.whenKnown(Duration.ofHours(1), Runnable::run, later::complete);
            assertThat(later).as("told on the caller's thread, without waiting again").isCompletedWithValue(Optional.empty());

            call.onNext(policy(EgressPolicy.Mode.AUDIT));
            await().atMost(Duration.ofSeconds(10)).until(() -> watch.latest().isPresent());
            CompletableFuture<Optional<dev.trellis.wire.policy.EgressPolicy>> known = new CompletableFuture<>();
            watch.whenKnown(Duration.ofHours(1), Runnable::run, known::complete);
            assertThat(known).isCompletedWithValue(Optional.of(wire(EgressPolicy.Mode.AUDIT)));
        }
    }

    @Test
    void closingCancelsTheCallOnTheServerAndNothingReconnects() throws Exception {
        StreamWatch<dev.trellis.wire.policy.EgressPolicy> watch = watch(StreamWatch.Updates.latestOnly()).start();
        ServerCallStreamObserver<EgressPolicy> call = nextCall();
        call.onNext(policy(EgressPolicy.Mode.DENY));
        await().atMost(Duration.ofSeconds(10)).until(() -> watch.latest().isPresent());

        watch.close();
        await().atMost(Duration.ofSeconds(10)).until(call::isCancelled);
        // Several backoffs' worth of time: a reconnect would have reached the server by now.
        Thread.sleep(500);
        assertThat(callCount).hasValue(1);
        assertThat(watch.latest()).as("the last answer stays readable").contains(wire(EgressPolicy.Mode.DENY));
    }
}
