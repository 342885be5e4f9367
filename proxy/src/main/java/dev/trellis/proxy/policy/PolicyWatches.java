package dev.trellis.proxy.policy;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.controlplane.StreamWatch;
import dev.trellis.wire.grpc.GrpcClient;
import dev.trellis.wire.policy.EgressPolicy;
import dev.trellis.wire.policy.InboundPort;
import dev.trellis.wire.policy.InboundServer;
import dev.trellis.wire.policy.PolicyService;
import dev.trellis.wire.policy.Workload;
import dev.trellis.wire.policy.WorkloadPorts;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;

/**
 * This workload's policy from the destination service: {@code WatchInbound} per app port
 * (opened on first use, at most {@value #MAX_PORTS}), {@code WatchEgress} and
 * {@code WatchWorkload} (its declared ports), each kept open by a {@link StreamWatch} while the
 * last policy stays in force. Thread-safe.
 */
public final class PolicyWatches implements AutoCloseable {

    static final int MAX_PORTS = 256;

    private final GrpcClient client;
    private final Workload workload;
    private final StreamWatch.Reconnect reconnect;
    private final ConcurrentHashMap<Integer, StreamWatch<InboundServer>> inbound = new ConcurrentHashMap<>();
    private final StreamWatch<EgressPolicy> egress;
    private final StreamWatch<WorkloadPorts> ports;
    private volatile boolean closed;

    /**
     * Opens the egress and declared-ports watches once {@code ready} completes (the proxy holds its certificate:
     * before that, the destination service would refuse the handshake).
     */
    public PolicyWatches(GrpcClient client, ScheduledExecutorService scheduler, String namespace, String workloadName, Duration initialBackoff,
                         CompletableFuture<?> ready) {
        this.client = requireNonNull(client, "client");
        this.workload = new Workload(namespace, workloadName);
        this.reconnect = new StreamWatch.Reconnect(scheduler, initialBackoff);
        String of = " of " + namespace + "/" + workloadName;
        this.egress = new StreamWatch<>("egress policy" + of, listener -> client.serverStream(PolicyService.WATCH_EGRESS, workload, EgressPolicy::read, listener),
                reconnect);
        this.ports = new StreamWatch<>("declared ports" + of, listener -> client.serverStream(PolicyService.WATCH_WORKLOAD, workload, WorkloadPorts::read, listener),
                reconnect);
        ready.whenComplete((ok, error) -> {
            if (!closed) {
                egress.start();
                ports.start();
            }
        });
    }

    /**
     * Calls {@code then} on {@code executor} with the inbound policy of {@code port}: at once
     * when known, else when the first answer comes, or with empty after {@code wait} (or when
     * too many ports are watched), so that the caller can apply its fallback.
     */
    public void inbound(int port, Duration wait, Executor executor, Consumer<Optional<InboundServer>> then) {
        StreamWatch<InboundServer> watch = inbound.get(port);
        if (watch == null) {
            if (inbound.size() >= MAX_PORTS || closed) {
                executor.execute(() -> then.accept(Optional.empty()));
                return;
            }
            @SuppressWarnings("unchecked")
            StreamWatch<InboundServer>[] created = new StreamWatch[1];
            InboundPort request = new InboundPort(workload, port);
            watch = inbound.computeIfAbsent(port, p -> created[0] = new StreamWatch<>("inbound policy of port " + p + " of "
                    + workload, listener -> client.serverStream(PolicyService.WATCH_INBOUND, request, InboundServer::read, listener), reconnect));
            if (created[0] == watch) {
                watch.start();
                if (closed) {
                    watch.close();
                }
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

    @Override
    public void close() {
        closed = true;
        egress.close();
        ports.close();
        inbound.values().forEach(StreamWatch::close);
    }
}
