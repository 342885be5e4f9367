package dev.trellis.proxy.policy;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.policy.v1.EgressPolicy;
import dev.trellis.api.policy.v1.InboundPort;
import dev.trellis.api.policy.v1.InboundServer;
import dev.trellis.api.policy.v1.PolicyGrpc;
import dev.trellis.api.policy.v1.Workload;
import dev.trellis.api.policy.v1.WorkloadPorts;
import dev.trellis.proxy.discovery.ReconnectBackoff;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This workload's policy from the destination service: {@code WatchInbound} per app port
 * (opened on first use, at most {@value #MAX_PORTS}), {@code WatchEgress} and
 * {@code WatchWorkload} (its declared ports), each kept open
 * and reopened with jittered backoff while the last policy stays in force. Thread-safe.
 */
public final class PolicyWatches implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PolicyWatches.class);
    static final int MAX_PORTS = 256;

    private final PolicyGrpc.PolicyStub stub;
    private final ScheduledExecutorService scheduler;
    private final Workload workload;
    private final Duration initialBackoff;
    private final ConcurrentHashMap<Integer, Watch<InboundServer>> inbound = new ConcurrentHashMap<>();
    private final Watch<EgressPolicy> egress = new Watch<>("egress");
    private final Watch<WorkloadPorts> ports = new Watch<>("declared ports");
    private volatile boolean closed;

    /**
     * Opens the egress and declared-ports watches once {@code ready} completes (the proxy holds its certificate:
     * before that, the destination service would refuse the handshake).
     */
    public PolicyWatches(Channel channel, ScheduledExecutorService scheduler, String namespace, String workloadName, Duration initialBackoff,
                         CompletableFuture<?> ready) {
        this.stub = PolicyGrpc.newStub(requireNonNull(channel, "channel"));
        this.scheduler = requireNonNull(scheduler, "scheduler");
        this.workload = Workload.newBuilder().setNamespace(namespace).setName(workloadName).build();
        this.initialBackoff = requireNonNull(initialBackoff, "initialBackoff");
        ready.whenComplete((ok, error) -> {
            openEgress(0);
            openPorts(0);
        });
    }

    /**
     * Calls {@code then} on {@code executor} with the inbound policy of {@code port}: at once
     * when known, else when the first answer comes, or with empty after {@code wait} (or when
     * too many ports are watched), so that the caller can apply its fallback.
     */
    public void inbound(int port, Duration wait, Executor executor, Consumer<Optional<InboundServer>> then) {
        Watch<InboundServer> watch = inbound.get(port);
        if (watch == null) {
            if (inbound.size() >= MAX_PORTS) {
                executor.execute(() -> then.accept(Optional.empty()));
                return;
            }
            Watch<InboundServer>[] created = new Watch[1];
            watch = inbound.computeIfAbsent(port, p -> created[0] = new Watch<>("inbound port " + p));
            if (created[0] == watch) {
                openInbound(port, watch, 0);
            }
        }
        watch.whenKnown(wait, executor, then);
    }

    /**
     * Calls {@code then} on {@code executor} with the egress policy: at once when known, else
     * at the first answer, or with empty after {@code wait}.
     */
    public void egress(Duration wait, Executor executor, Consumer<Optional<EgressPolicy>> then) {
        egress.whenKnown(wait, executor, then);
    }

    /**
     * Calls {@code then} on {@code executor} with the ports the workload declares: at once
     * when known, else at the first answer, or with empty after {@code wait}.
     */
    public void declaredPorts(Duration wait, Executor executor, Consumer<Optional<WorkloadPorts>> then) {
        ports.whenKnown(wait, executor, then);
    }

    private void openPorts(int attempt) {
        if (closed) {
            return;
        }
        stub.watchWorkload(workload, ports.observer(attempt, this::openPorts));
    }

    private void openInbound(int port, Watch<InboundServer> watch, int attempt) {
        if (closed) {
            return;
        }
        stub.watchInbound(InboundPort.newBuilder().setWorkload(workload).setPort(port).build(),
                watch.observer(attempt, next -> openInbound(port, watch, next)));
    }

    private void openEgress(int attempt) {
        if (closed) {
            return;
        }
        stub.watchEgress(workload, egress.observer(attempt, this::openEgress));
    }

    /** One policy stream's latest message and its first answer. */
    private final class Watch<T> {
        private final String what;
        private final CompletableFuture<T> first = new CompletableFuture<>();
        private volatile T current;
        /** A wait for the first answer ran out: later callers take the fallback at once instead of each waiting again. */
        private volatile boolean waitedOut;

        Watch(String what) {
            this.what = what;
        }

        void whenKnown(Duration wait, Executor executor, Consumer<Optional<T>> then) {
            T known = current;
            if (known != null || waitedOut) {
                then.accept(Optional.ofNullable(known));
                return;
            }
            first.copy().orTimeout(wait.toMillis(), TimeUnit.MILLISECONDS).whenComplete((policy, error) -> {
                if (error != null) {
                    waitedOut = true;
                }
                executor.execute(() -> then.accept(Optional.ofNullable(error == null ? policy : null)));
            });
        }

        StreamObserver<T> observer(int attempt, java.util.function.IntConsumer reopen) {
            return new StreamObserver<>() {
                private boolean answered;

                @Override
                public void onNext(T value) {
                    answered = true;
                    current = value;
                    first.complete(value);
                }

                @Override
                public void onError(Throwable error) {
                    retry(answered ? 0 : attempt + 1, Status.fromThrowable(error).toString(), reopen);
                }

                @Override
                public void onCompleted() {
                    retry(answered ? 0 : attempt + 1, "stream ended", reopen);
                }
            };
        }

        private void retry(int attempt, String why, java.util.function.IntConsumer reopen) {
            if (closed) {
                return;
            }
            long delay = ReconnectBackoff.millis(initialBackoff, attempt);
            if (current == null && why.contains("NOT_FOUND")) {
                // A starting pod the cluster state does not list yet: expected for a moment, not worth a warning.
                log.debug("policy: {} for {}/{} not known yet; asking again in {} ms", what, workload.getNamespace(), workload.getName(), delay);
                scheduler.schedule(() -> reopen.accept(attempt), delay, TimeUnit.MILLISECONDS);
                return;
            }
            log.warn("policy: {} stream for {}/{} broke ({}); {}, reconnecting in {} ms", what, workload.getNamespace(), workload.getName(), why,
                    current == null ? "no policy yet" : "keeping the last policy", delay);
            scheduler.schedule(() -> reopen.accept(attempt), delay, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void close() {
        closed = true;
    }
}
