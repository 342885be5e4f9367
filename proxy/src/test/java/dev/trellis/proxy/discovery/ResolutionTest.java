package dev.trellis.proxy.discovery;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.trellis.api.destination.v1.NoEndpoints;
import dev.trellis.api.destination.v1.ProtocolHint;
import dev.trellis.api.destination.v1.TcpAddress;
import dev.trellis.api.destination.v1.TlsIdentity;
import dev.trellis.api.destination.v1.Update;
import dev.trellis.api.destination.v1.WeightedAddr;
import dev.trellis.api.destination.v1.WeightedAddrSet;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.testing.TestPki;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * One authority's endpoint set as discovery's updates change it, on its own: adds, removes,
 * "no endpoints", a new stream's first answer replacing the old set, and what it does with an
 * update it cannot trust (malformed addresses and identities are skipped, the rest kept; more
 * than {@value Resolution#MAX_ENDPOINTS} endpoints are not).
 */
class ResolutionTest {

    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");

    private static TcpAddress address(int lastOctet, int port) {
        return TcpAddress.newBuilder().setIp(ByteString.copyFrom(new byte[] {10, 0, (byte) (lastOctet >> 8), (byte) lastOctet})).setPort(port).build();
    }

    private static WeightedAddr endpoint(int lastOctet) {
        return WeightedAddr.newBuilder().setAddr(address(lastOctet, 8080)).setWeight(1)
                .setTlsIdentity(TlsIdentity.newBuilder().setSpiffeId(EMOJI.spiffeId())).putMetricLabels("pod", "emoji-" + lastOctet).build();
    }

    private static Update add(WeightedAddr... addrs) {
        return Update.newBuilder().setAdd(WeightedAddrSet.newBuilder().addAllAddrs(List.of(addrs)).putMetricLabels("service", "emoji-svc")).build();
    }

    private static Update remove(int lastOctet) {
        return Update.newBuilder().setRemove(dev.trellis.api.destination.v1.AddrSet.newBuilder().addAddrs(address(lastOctet, 8080))).build();
    }

    private static List<String> hosts(Resolution resolution) {
        return resolution.current().endpoints().stream().map(e -> e.address().getAddress().getHostAddress()).toList();
    }

    private static dev.trellis.wire.destination.Update wire(Update update) {
        return dev.trellis.proxy.WireMessages.read(update, dev.trellis.wire.destination.Update::read);
    }

    @Test
    void addsRemovesAndNoEndpointsChangeTheSetAndTheFirstAnswerIsAwaitable() {
        Resolution resolution = new Resolution("emoji-svc.emojivoto.svc.cluster.local:8080");
        assertThat(resolution.current()).isEqualTo(EndpointSet.UNKNOWN);
        assertThat(resolution.firstAnswer()).isNotDone();
        resolution.streamStarted();

        resolution.apply(wire(add(endpoint(1), endpoint(2))));
        assertThat(resolution.firstAnswer()).isDone();
        assertThat(hosts(resolution)).containsExactly("10.0.0.1", "10.0.0.2");
        Endpoint first = resolution.current().endpoints().getFirst();
        assertThat(first.identity()).contains(EMOJI);
        assertThat(first.labels()).containsEntry("service", "emoji-svc").containsEntry("pod", "emoji-1");

        resolution.apply(wire(remove(1)));
        assertThat(hosts(resolution)).containsExactly("10.0.0.2");
        resolution.apply(wire(Update.newBuilder().setNoEndpoints(NoEndpoints.newBuilder().setExists(true)).build()));
        assertThat(resolution.current().exists()).isTrue();
        assertThat(resolution.current().endpoints()).isEmpty();
    }

    @Test
    void aNewStreamsFirstAnswerReplacesTheSetInsteadOfAddingToIt() {
        Resolution resolution = new Resolution("emoji:8080");
        resolution.streamStarted();
        resolution.apply(wire(add(endpoint(1), endpoint(2))));
        // The stream broke; while it reconnects the last set stays in force.
        resolution.streamStarted();
        assertThat(hosts(resolution)).containsExactly("10.0.0.1", "10.0.0.2");
        // The endpoint removed while the stream was down must not linger.
        resolution.apply(wire(add(endpoint(2))));
        assertThat(hosts(resolution)).containsExactly("10.0.0.2");
        resolution.apply(wire(add(endpoint(3))));
        assertThat(hosts(resolution)).containsExactly("10.0.0.2", "10.0.0.3");
    }

    @Test
    void malformedAddressesAndIdentitiesAreSkippedAndTheRestKept() {
        Resolution resolution = new Resolution("emoji:8080");
        resolution.streamStarted();
        WeightedAddr threeByteIp = WeightedAddr.newBuilder().setAddr(TcpAddress.newBuilder().setIp(ByteString.copyFrom(new byte[] {10, 0, 0})).setPort(80)).build();
        WeightedAddr portZero = WeightedAddr.newBuilder().setAddr(address(5, 0)).build();
        WeightedAddr portTooBig = WeightedAddr.newBuilder().setAddr(address(6, 70000)).build();
        WeightedAddr badIdentity = endpoint(7).toBuilder().setTlsIdentity(TlsIdentity.newBuilder().setSpiffeId("spiffe://other/not-a-workload")).build();
        WeightedAddr badProxyPort = endpoint(8).toBuilder().setProxyInboundPort(70000).build();
        resolution.apply(wire(add(threeByteIp, portZero, portTooBig, badIdentity, badProxyPort, endpoint(9))));
        assertThat(hosts(resolution)).containsExactly("10.0.0.9");
    }

    @Test
    void anEndpointWithoutIdentityIsUnmeshedAndAnOpaqueHintIsKept() {
        Resolution resolution = new Resolution("db:5432");
        resolution.streamStarted();
        WeightedAddr plain = WeightedAddr.newBuilder().setAddr(address(1, 5432)).setWeight(0).build();
        WeightedAddr opaque = endpoint(2).toBuilder().setProtocolHint(ProtocolHint.newBuilder().setProtocol(ProtocolHint.Protocol.OPAQUE)).build();
        resolution.apply(wire(add(plain, opaque)));
        List<Endpoint> endpoints = resolution.current().endpoints();
        assertThat(endpoints.get(0).identity()).isEmpty();
        assertThat(endpoints.get(0).weight()).as("a weight of 0 is read as 1").isEqualTo(1);
        assertThat(endpoints.get(1).opaque()).isTrue();
        assertThat(endpoints.get(1).dialAddress()).isEqualTo(new InetSocketAddress("10.0.0.2", 8080));
    }

    @Test
    void endpointsBeyondTheCapAreDroppedButKnownOnesStillUpdate() {
        Resolution resolution = new Resolution("big:80");
        resolution.streamStarted();
        WeightedAddr[] many = IntStream.range(0, Resolution.MAX_ENDPOINTS + 5).mapToObj(ResolutionTest::endpoint).toArray(WeightedAddr[]::new);
        resolution.apply(wire(add(many)));
        assertThat(resolution.current().endpoints()).hasSize(Resolution.MAX_ENDPOINTS);
        // An update to one already kept is applied although the set is full.
        resolution.apply(wire(add(endpoint(0).toBuilder().setWeight(7).build())));
        assertThat(resolution.current().endpoints()).hasSize(Resolution.MAX_ENDPOINTS);
        assertThat(resolution.current().endpoints().stream().filter(e -> e.weight() == 7).map(Endpoint::labels).findFirst())
                .isEqualTo(Optional.of(Map.of("service", "emoji-svc", "pod", "emoji-0")));
    }
}
