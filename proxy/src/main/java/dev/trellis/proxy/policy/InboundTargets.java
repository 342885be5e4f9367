package dev.trellis.proxy.policy;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.wire.policy.WorkloadPorts.DeclaredPort;
import dev.trellis.wire.policy.WorkloadPorts;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

/**
 * Where inbound traffic may go: only to a port the workload declares, never to a listener of
 * the proxy itself, and to the address the traffic came for, not to loopback.
 *
 * <p>An outside review named a loopback port in the transport header (or
 * {@code trellis-target-port}) and reached the proxy's own {@code --forward} listeners, which
 * then called onward as this workload — identity laundering — and on one machine the
 * loopback admin ports of the control plane. Now a port is declared by the proxy's
 * configuration ({@code --inbound-ports}, the pod's container ports as the injector writes
 * them) or by the destination service ({@code WatchWorkload}: container ports, the target
 * ports of Services and EndpointSlices that send to the pod, and Servers),
 * and the app is reached on the address the connection arrived on — the pod's — unless the
 * destination service marks the port loopback-only (an explicit Server) or the operator set
 * {@code --app-host}. Istio stopped forwarding inbound traffic to localhost in 1.10 for the
 * same reason. Thread-safe.
 */
public final class InboundTargets {

    /** Where an inbound connection or request goes, or why it may not. */
    public sealed interface Target {
        /** The app's address. */
        record App(InetSocketAddress address) implements Target {}

        /** Refused, and why. */
        record Refused(ProxyFailure why) implements Target {}
    }

    /** The workload's declared ports from the control plane: {@code then} runs on {@code executor}, with empty when unknown. */
    @FunctionalInterface
    public interface Declarations {
        void whenKnown(Executor executor, Consumer<Optional<WorkloadPorts>> then);
    }

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private final Set<Integer> ownPorts = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final Set<Integer> declared;
    private final Optional<InetAddress> appHost;
    private final Optional<Declarations> fromControlPlane;
    private final String workload;

    /**
     * @param ownPorts  the proxy's listeners as configured, never a target ({@link #protect} adds bound ones)
     * @param declared  ports declared by configuration
     * @param appHost   where the app listens, overriding the arrival address (local mode, tests)
     * @param fromControlPlane the workload's declared ports from the destination service, when it has a workload
     * @param workload  the workload's name, for refusals
     */
    public InboundTargets(Set<Integer> ownPorts, Set<Integer> declared, Optional<String> appHost, Optional<Declarations> fromControlPlane,
                          String workload) {
        this.ownPorts.addAll(ownPorts);
        this.declared = Set.copyOf(declared);
        this.appHost = requireNonNull(appHost, "appHost").map(InboundTargets::resolved);
        this.fromControlPlane = requireNonNull(fromControlPlane, "fromControlPlane");
        this.workload = requireNonNull(workload, "workload");
    }

    /** Adds ports of the proxy's own listeners as they bind (a port 0 in the configuration becomes a real one only then). */
    public void protect(int port) {
        ownPorts.add(port);
    }

    /**
     * Decides where traffic for {@code port} that arrived on {@code arrivedOn} (the pod's
     * address the client dialled, or the original destination of redirected traffic) goes;
     * {@code then} runs on {@code executor}.
     */
    public void resolve(int port, InetAddress arrivedOn, Executor executor, Consumer<Target> then) {
        if (ownPorts.contains(port)) {
            then.accept(new Target.Refused(ProxyError.PROTECTED_PORT.because("port " + port + " is one of this proxy's own listeners")));
            return;
        }
        if (fromControlPlane.isEmpty()) {
            then.accept(decide(port, arrivedOn, Optional.empty()));
            return;
        }
        fromControlPlane.get().whenKnown(executor, ports -> then.accept(decide(port, arrivedOn, ports)));
    }

    private Target decide(int port, InetAddress arrivedOn, Optional<WorkloadPorts> fromControlPlane) {
        Optional<DeclaredPort> byControlPlane = fromControlPlane.flatMap(p -> p.ports().stream().filter(d -> d.port() == port).findFirst());
        if (!declared.contains(port) && byControlPlane.isEmpty()) {
            String known = fromControlPlane.isPresent() || this.fromControlPlane.isEmpty() ? ""
                    : " (the destination service has not said which ports it declares)";
            return new Target.Refused(ProxyError.UNDECLARED_PORT.because("port " + port + " is not declared by " + workload
                    + " (its container ports, the target ports of Services that select it, the Servers that select it, or --inbound-ports)" + known));
        }
        boolean loopback = byControlPlane.map(DeclaredPort::loopback).orElse(false);
        InetAddress host = appHost.orElse(loopback ? LOOPBACK : arrivedOn);
        return new Target.App(new InetSocketAddress(host, port));
    }

    private static InetAddress resolved(String host) {
        try {
            return InetAddress.getByName(host);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException("proxy: app host " + host + " does not resolve", e);
        }
    }
}
