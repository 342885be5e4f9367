package dev.trellis.proxy.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.api.policy.v1.DeclaredPort;
import dev.trellis.api.policy.v1.WorkloadPorts;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Where inbound traffic may go, decided without a mesh. */
class InboundTargetsTest {

    private static final InetAddress POD = address("10.1.2.3");

    @Test
    void theProxysOwnListenersAreNeverATargetEvenWhenDeclared() {
        InboundTargets targets = new InboundTargets(Set.of(4191), Set.of(4191, 8080), Optional.empty(), Optional.empty(), "shop/front-0");
        targets.protect(40123);
        assertThat(refusal(targets, 4191)).startsWith("protected_port: port 4191 is one of this proxy's own listeners");
        assertThat(refusal(targets, 40123)).startsWith("protected_port");
    }

    @Test
    void onlyDeclaredPortsAreTargetsAndTheAppIsReachedWhereTheTrafficArrived() {
        InboundTargets targets = new InboundTargets(Set.of(), Set.of(8080), Optional.empty(), Optional.empty(), "shop/front-0");
        assertThat(app(targets, 8080)).isEqualTo(new InetSocketAddress(POD, 8080));
        assertThat(refusal(targets, 9090)).isEqualTo("undeclared_port: port 9090 is not declared by shop/front-0 "
                + "(its container ports, the target ports of Services that select it, the Servers that select it, or --inbound-ports)");
    }

    @Test
    void theControlPlaneAddsPortsAndMarksLoopbackOnes() {
        WorkloadPorts declared = WorkloadPorts.newBuilder()
                .addPorts(DeclaredPort.newBuilder().setPort(9090))
                .addPorts(DeclaredPort.newBuilder().setPort(9901).setLoopback(true)).build();
        InboundTargets targets = new InboundTargets(Set.of(), Set.of(8080), Optional.empty(),
                Optional.of((executor, then) -> then.accept(Optional.of(dev.trellis.proxy.WireMessages.read(declared, dev.trellis.wire.policy.WorkloadPorts::read)))), "shop/front-0");
        assertThat(app(targets, 8080)).isEqualTo(new InetSocketAddress(POD, 8080));
        assertThat(app(targets, 9090)).isEqualTo(new InetSocketAddress(POD, 9090));
        assertThat(app(targets, 9901)).isEqualTo(new InetSocketAddress(InetAddress.getLoopbackAddress(), 9901));
        assertThat(refusal(targets, 22)).startsWith("undeclared_port");
    }

    @Test
    void whileTheControlPlaneHasNotAnsweredOnlyConfiguredPortsAreTargets() {
        InboundTargets targets = new InboundTargets(Set.of(), Set.of(8080), Optional.empty(),
                Optional.of((executor, then) -> then.accept(Optional.empty())), "shop/front-0");
        assertThat(app(targets, 8080)).isEqualTo(new InetSocketAddress(POD, 8080));
        assertThat(refusal(targets, 9090)).endsWith("(the destination service has not said which ports it declares)");
    }

    @Test
    void anAppHostOverridesTheArrivalAddress() {
        InboundTargets targets = new InboundTargets(Set.of(), Set.of(8080), Optional.of("127.0.0.1"), Optional.empty(), "local");
        assertThat(app(targets, 8080)).isEqualTo(new InetSocketAddress(InetAddress.getLoopbackAddress(), 8080));
    }

    private static InetSocketAddress app(InboundTargets targets, int port) {
        return ((InboundTargets.Target.App) decide(targets, port)).address();
    }

    private static String refusal(InboundTargets targets, int port) {
        InboundTargets.Target.Refused refused = (InboundTargets.Target.Refused) decide(targets, port);
        return refused.why().error().label() + ": " + refused.why().getMessage();
    }

    private static InboundTargets.Target decide(InboundTargets targets, int port) {
        AtomicReference<InboundTargets.Target> decided = new AtomicReference<>();
        targets.resolve(port, POD, Runnable::run, decided::set);
        return decided.get();
    }

    private static InetAddress address(String text) {
        try {
            return InetAddress.getByName(text);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
