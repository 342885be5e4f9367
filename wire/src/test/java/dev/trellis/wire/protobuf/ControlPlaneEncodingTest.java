package dev.trellis.wire.protobuf;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.trellis.api.destination.v1.AddrSet;
import dev.trellis.api.destination.v1.NoEndpoints;
import dev.trellis.api.destination.v1.ProtocolHint;
import dev.trellis.api.destination.v1.RequestMatch;
import dev.trellis.api.destination.v1.TlsIdentity;
import dev.trellis.api.destination.v1.WeightedAddrSet;
import dev.trellis.api.policy.v1.MeshTls;
import dev.trellis.api.policy.v1.Network;
import dev.trellis.api.policy.v1.RateLimitOverride;
import dev.trellis.api.policy.v1.Unauthenticated;
import dev.trellis.wire.destination.Profile;
import dev.trellis.wire.destination.Route;
import dev.trellis.wire.destination.TcpAddress;
import dev.trellis.wire.destination.Update;
import dev.trellis.wire.destination.WeightedAddr;
import dev.trellis.wire.identity.CertifyRequest;
import dev.trellis.wire.identity.CertifyResponse;
import dev.trellis.wire.policy.Authorization;
import dev.trellis.wire.policy.EgressPolicy;
import dev.trellis.wire.policy.EgressRule;
import dev.trellis.wire.policy.HttpRoute;
import dev.trellis.wire.policy.InboundPort;
import dev.trellis.wire.policy.InboundServer;
import dev.trellis.wire.policy.RateLimit;
import dev.trellis.wire.policy.Workload;
import dev.trellis.wire.policy.WorkloadPorts;
import dev.trellis.wire.tap.ObserveRequest;
import dev.trellis.wire.tap.TapEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The proxy's codecs against the control plane's generated protobuf classes, both ways: what
 * grpc-java's servers send, the proxy reads field for field; what the proxy sends, they parse
 * to the message meant. The .proto files stay the one definition.
 */
class ControlPlaneEncodingTest {

    private static final byte[] IP = {10, 0, 0, 7};

    @Test
    void readsEveryEndpointUpdateTheDestinationServiceSends() throws Exception {
        var add = dev.trellis.api.destination.v1.Update.newBuilder().setAdd(WeightedAddrSet.newBuilder()
                .putMetricLabels("namespace", "emojivoto")
                .addAddrs(dev.trellis.api.destination.v1.WeightedAddr.newBuilder()
                        .setAddr(dev.trellis.api.destination.v1.TcpAddress.newBuilder().setIp(ByteString.copyFrom(IP)).setPort(8080))
                        .setWeight(10_000).putMetricLabels("pod", "web-0")
                        .setTlsIdentity(TlsIdentity.newBuilder().setSpiffeId("spiffe://cluster.local/ns/emojivoto/sa/web").setDnsName("web.emojivoto"))
                        .setProtocolHint(ProtocolHint.newBuilder().setProtocol(ProtocolHint.Protocol.OPAQUE))
                        .setProxyInboundPort(4143))
                .addAddrs(dev.trellis.api.destination.v1.WeightedAddr.newBuilder()
                        .setAddr(dev.trellis.api.destination.v1.TcpAddress.newBuilder().setIp(ByteString.copyFrom(IP)).setPort(8081))))
                .build();
        Update read = Update.read(ProtoReader.of(add.toByteArray()));
        assertThat(read).isEqualTo(new Update.Add(List.of(
                new WeightedAddr(new TcpAddress(IP, 8080), 10_000, Map.of("pod", "web-0"), "spiffe://cluster.local/ns/emojivoto/sa/web", true, 4143),
                new WeightedAddr(new TcpAddress(IP, 8081), 0, Map.of(), "", false, 0)), Map.of("namespace", "emojivoto")));
        assertThat(dev.trellis.api.destination.v1.Update.parseFrom(ProtoWriter.encode(read)))
                .as("written back, less the DNS name the proxy does not read")
                .isEqualTo(add.toBuilder().setAdd(add.getAdd().toBuilder().setAddrs(0, add.getAdd().getAddrs(0).toBuilder()
                        .setTlsIdentity(TlsIdentity.newBuilder().setSpiffeId("spiffe://cluster.local/ns/emojivoto/sa/web")))).build());

        var remove = dev.trellis.api.destination.v1.Update.newBuilder().setRemove(AddrSet.newBuilder()
                .addAddrs(dev.trellis.api.destination.v1.TcpAddress.newBuilder().setIp(ByteString.copyFrom(IP)).setPort(8080))).build();
        assertThat(Update.read(ProtoReader.of(remove.toByteArray()))).isEqualTo(new Update.Remove(List.of(new TcpAddress(IP, 8080))));

        var none = dev.trellis.api.destination.v1.Update.newBuilder().setNoEndpoints(NoEndpoints.newBuilder().setExists(false)).build();
        assertThat(none.toByteArray()).as("an empty oneof member is still on the wire").isNotEmpty();
        assertThat(Update.read(ProtoReader.of(none.toByteArray()))).isEqualTo(new Update.NoEndpoints(false));
        assertThat(Update.read(ProtoReader.of(new byte[0]))).isEqualTo(new Update.Empty());
        assertThat(dev.trellis.api.destination.v1.Update.parseFrom(ProtoWriter.encode(new Update.NoEndpoints(false)))).isEqualTo(none);
    }

    @Test
    void readsRouteProfilesWithTheirTimeouts() throws Exception {
        var profile = dev.trellis.api.destination.v1.Profile.newBuilder().setFullyQualifiedName("web.emojivoto.svc.cluster.local")
                .addRoutes(dev.trellis.api.destination.v1.Route.newBuilder().setName("vote")
                        .setCondition(RequestMatch.newBuilder().setPathRegex("/api/vote.*").setMethod("POST"))
                        .setIsRetryable(true).setTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(1).setNanos(500_000_000)))
                .addRoutes(dev.trellis.api.destination.v1.Route.newBuilder().setName("list").setCondition(RequestMatch.newBuilder().setPath("/api/list")))
                .build();
        assertThat(Profile.read(ProtoReader.of(profile.toByteArray()))).isEqualTo(new Profile(List.of(
                Route.simple("vote", "", "/api/vote.*", "POST", true, Optional.of(Duration.ofMillis(1500))),
                Route.simple("list", "/api/list", "", "", false, Optional.empty()))));
    }

    @Test
    void gatewayRoutesKeepEveryFieldBothWays() throws Exception {
        com.google.protobuf.Duration second = com.google.protobuf.Duration.newBuilder().setSeconds(1).build();
        var route = dev.trellis.api.destination.v1.Route.newBuilder().setName("web-canary").setKind("HTTPRoute").setNamespace("shop")
                .setCondition(RequestMatch.newBuilder().setPathPrefix("/api").setMethod("GET")
                        .addHeaders(dev.trellis.api.destination.v1.ValueMatch.newBuilder().setName("x-canary").setExact("yes"))
                        .addQueryParams(dev.trellis.api.destination.v1.ValueMatch.newBuilder().setName("v").setRegex("[0-9]+")))
                .setTimeout(second).setBackendTimeout(com.google.protobuf.Duration.newBuilder().setNanos(250_000_000))
                .addBackends(dev.trellis.api.destination.v1.WeightedBackend.newBuilder().setAuthority("web-v1.shop.svc.cluster.local:80").setWeight(90))
                .addBackends(dev.trellis.api.destination.v1.WeightedBackend.newBuilder().setAuthority("").setWeight(10))
                .setFilters(dev.trellis.api.destination.v1.RequestFilters.newBuilder()
                        .setRequestHeaders(dev.trellis.api.destination.v1.HeaderEdit.newBuilder()
                                .addSet(dev.trellis.api.destination.v1.Header.newBuilder().setName("x-route").setValue("canary")).addRemove("x-debug"))
                        .setResponseHeaders(dev.trellis.api.destination.v1.HeaderEdit.newBuilder()
                                .addAdd(dev.trellis.api.destination.v1.Header.newBuilder().setName("x-served-by").setValue("v2")))
                        .setRewrite(dev.trellis.api.destination.v1.Rewrite.newBuilder().setHostname("web-v2").setPath("/v2").setPrefixMatch(true).setHasPath(true))
                        .setMirror(dev.trellis.api.destination.v1.Mirror.newBuilder().setAuthority("shadow.shop.svc.cluster.local:80").setPercent(5)))
                .setRetry(dev.trellis.api.destination.v1.RetryPolicy.newBuilder().setAttempts(2).addHttpStatuses(503).addGrpcCodes(14).setPerTryTimeout(second))
                .build();
        var redirect = dev.trellis.api.destination.v1.Route.newBuilder().setName("moved").setKind("HTTPRoute")
                .setCondition(RequestMatch.newBuilder().setPath("/old"))
                .setFilters(dev.trellis.api.destination.v1.RequestFilters.newBuilder().setRedirect(dev.trellis.api.destination.v1.Redirect.newBuilder()
                        .setScheme("https").setHostname("new.example").setPort(8443).setPath("/new").setHasPath(true).setStatus(301)))
                .build();
        var profile = dev.trellis.api.destination.v1.Profile.newBuilder().addRoutes(route).addRoutes(redirect).build();
        Profile read = Profile.read(ProtoReader.of(profile.toByteArray()));
        assertThat(read.routes().getFirst().backends()).containsExactly(new Route.Backend("web-v1.shop.svc.cluster.local:80", 90), new Route.Backend("", 10));
        assertThat(read.routes().getFirst().match().queryParams()).containsExactly(new Route.ValueMatch("v", true, "[0-9]+"));
        assertThat(read.routes().getFirst().retry()).contains(new Route.Retry(2, List.of(503), List.of(14), Optional.of(Duration.ofSeconds(1))));
        assertThat(read.routes().get(1).filters().redirect()).contains(new Route.Redirect("https", "new.example", 8443, true, "/new", false, 301));
        // What the proxy reads, written again, is what the destination service wrote.
        assertThat(dev.trellis.api.destination.v1.Profile.parseFrom(ProtoWriter.encode(read))).isEqualTo(profile);
    }

    @Test
    void readsInboundPolicyWithEveryKindOfAuthorization() throws Exception {
        var server = dev.trellis.api.policy.v1.InboundServer.newBuilder()
                .setProtocol(dev.trellis.api.policy.v1.InboundServer.Protocol.GRPC)
                .putLabels("name", "voting-grpc").putLabels("mode", "audit")
                .addAuthorizations(dev.trellis.api.policy.v1.Authorization.newBuilder()
                        .addNetworks(Network.newBuilder().setCidr("10.0.0.0/8").addExcept("10.1.0.0/16"))
                        .setUnauthenticated(Unauthenticated.getDefaultInstance()).putLabels("name", "probes"))
                .addAuthorizations(dev.trellis.api.policy.v1.Authorization.newBuilder()
                        .setMeshTls(MeshTls.newBuilder().setAny(true).addIdentities("spiffe://cluster.local/ns/a/sa/b").addPatterns("spiffe://cluster.local/ns/a/sa/*")))
                .addAuthorizations(dev.trellis.api.policy.v1.Authorization.newBuilder())
                .setRateLimit(dev.trellis.api.policy.v1.RateLimit.newBuilder().setTotalRps(100).setIdentityRps(10)
                        .addOverrides(RateLimitOverride.newBuilder().addIdentities("spiffe://cluster.local/ns/a/sa/b").setRps(50)))
                .addRoutes(dev.trellis.api.policy.v1.HttpRoute.newBuilder().setName("metrics")
                        .addMatches(dev.trellis.api.policy.v1.HttpRouteMatch.newBuilder().setPathPrefix("/metrics").setMethod("GET"))
                        .addAuthorizations(dev.trellis.api.policy.v1.Authorization.newBuilder().setUnauthenticated(Unauthenticated.getDefaultInstance())))
                .build();
        InboundServer read = InboundServer.read(ProtoReader.of(server.toByteArray()));
        assertThat(read).isEqualTo(new InboundServer(InboundServer.Protocol.GRPC, List.of(
                new Authorization(List.of(new Authorization.Network("10.0.0.0/8", List.of("10.1.0.0/16"))), new Authorization.Unauthenticated(),
                        Map.of("name", "probes")),
                new Authorization(List.of(), new Authorization.MeshTls(true, List.of("spiffe://cluster.local/ns/a/sa/b"),
                        List.of("spiffe://cluster.local/ns/a/sa/*")), Map.of()),
                new Authorization(List.of(), new Authorization.NotSet(), Map.of())),
                Optional.of(new RateLimit(100, 10, List.of(new RateLimit.Override(List.of("spiffe://cluster.local/ns/a/sa/b"), 50)))),
                Map.of("name", "voting-grpc", "mode", "audit"),
                List.of(new HttpRoute("metrics", List.of(new HttpRoute.Match("", "/metrics", "GET")),
                        List.of(new Authorization(List.of(), new Authorization.Unauthenticated(), Map.of()))))));
        assertThat(dev.trellis.api.policy.v1.InboundServer.parseFrom(ProtoWriter.encode(read))).isEqualTo(server);
    }

    @Test
    void anEnumNumberThisProxyDoesNotKnowIsUnrecognizedNotAGuess() throws Exception {
        byte[] newerProtocol = {0x08, 0x2a};   // field 1, varint 42
        assertThat(InboundServer.read(ProtoReader.of(newerProtocol)).protocol()).isEqualTo(InboundServer.Protocol.UNRECOGNIZED);
        assertThat(EgressPolicy.read(ProtoReader.of(newerProtocol)).mode()).isEqualTo(EgressPolicy.Mode.UNRECOGNIZED);
    }

    @Test
    void readsEgressPolicyWithPackedAndUnpackedPorts() throws Exception {
        var policy = dev.trellis.api.policy.v1.EgressPolicy.newBuilder().setMode(dev.trellis.api.policy.v1.EgressPolicy.Mode.AUDIT)
                .addAllow(dev.trellis.api.policy.v1.EgressRule.newBuilder().setHost("*.example.com").addPorts(443).addPorts(8443))
                .addDeny(dev.trellis.api.policy.v1.EgressRule.newBuilder().setCidr("169.254.0.0/16"))
                .addDeny(dev.trellis.api.policy.v1.EgressRule.newBuilder().setHost(""))
                .putLabels("name", "egress").setStaleAfter(com.google.protobuf.Duration.newBuilder().setSeconds(300))
                .build();
        EgressPolicy read = EgressPolicy.read(ProtoReader.of(policy.toByteArray()));
        assertThat(read).isEqualTo(new EgressPolicy(EgressPolicy.Mode.AUDIT, List.of(EgressRule.host("*.example.com", List.of(443, 8443))),
                List.of(EgressRule.cidr("169.254.0.0/16", List.of()), EgressRule.host("", List.of())), Map.of("name", "egress"),
                Optional.of(Duration.ofMinutes(5))));
        assertThat(dev.trellis.api.policy.v1.EgressPolicy.parseFrom(ProtoWriter.encode(read))).isEqualTo(policy);
        byte[] unpacked = {0x18, (byte) 0xbb, 0x03, 0x18, 0x50};   // field 3 twice, as varints: 443, 80
        assertThat(EgressRule.read(ProtoReader.of(unpacked)).ports()).containsExactly(443, 80);
    }

    @Test
    void writesWhatTheControlPlaneParses() throws Exception {
        assertThat(dev.trellis.api.policy.v1.InboundPort.parseFrom(ProtoWriter.encode(new InboundPort(new Workload("shop", "front-0"), 8080))))
                .isEqualTo(dev.trellis.api.policy.v1.InboundPort.newBuilder().setPort(8080)
                        .setWorkload(dev.trellis.api.policy.v1.Workload.newBuilder().setNamespace("shop").setName("front-0")).build());
        assertThat(dev.trellis.api.destination.v1.GetDestination.parseFrom(ProtoWriter.encode(
                new dev.trellis.wire.destination.GetDestination("web.emojivoto.svc.cluster.local:80", "emojivoto"))))
                .isEqualTo(dev.trellis.api.destination.v1.GetDestination.newBuilder().setAuthority("web.emojivoto.svc.cluster.local:80")
                        .setContextNamespace("emojivoto").build());
        byte[] csr = {1, 2, 3};
        assertThat(dev.trellis.api.identity.v1.CertifyRequest.parseFrom(ProtoWriter.encode(new CertifyRequest("spiffe://x/ns/a/sa/b", "tok", csr))))
                .isEqualTo(dev.trellis.api.identity.v1.CertifyRequest.newBuilder().setIdentity("spiffe://x/ns/a/sa/b").setToken("tok")
                        .setCsrDer(ByteString.copyFrom(csr)).build());
        var response = dev.trellis.api.identity.v1.CertifyResponse.newBuilder().setLeafDer(ByteString.copyFrom(csr))
                .addIntermediatesDer(ByteString.copyFrom(new byte[] {4})).addIntermediatesDer(ByteString.EMPTY)
                .setValidUntil(com.google.protobuf.Timestamp.newBuilder().setSeconds(1)).build();
        CertifyResponse read = CertifyResponse.read(ProtoReader.of(response.toByteArray()));
        assertThat(read.leafDer()).containsExactly(1, 2, 3);
        assertThat(read.intermediatesDer()).hasSize(2);
        var ports = dev.trellis.api.policy.v1.WorkloadPorts.newBuilder()
                .addPorts(dev.trellis.api.policy.v1.DeclaredPort.newBuilder().setPort(9090))
                .addPorts(dev.trellis.api.policy.v1.DeclaredPort.newBuilder().setPort(9901).setLoopback(true)).build();
        assertThat(WorkloadPorts.read(ProtoReader.of(ports.toByteArray()))).isEqualTo(new WorkloadPorts(List.of(
                new WorkloadPorts.DeclaredPort(9090, false), new WorkloadPorts.DeclaredPort(9901, true))));
    }

    @Test
    void tapEventsAreWhatVizParses() throws Exception {
        Instant at = Instant.ofEpochSecond(1_700_000_000L, 123_456_789);
        TapEvent.Peer source = new TapEvent.Peer("10.0.0.1", "spiffe://cluster.local/ns/a/sa/b");
        TapEvent.Peer destination = new TapEvent.Peer("10.0.0.2:8080", "spiffe://cluster.local/ns/c/sa/d", Map.of("pod", "d-0"));
        var parsed = dev.trellis.api.tap.v1.TapEvent.parseFrom(ProtoWriter.encode(new TapEvent(TapEvent.Direction.INBOUND, at, source, destination,
                new TapEvent.ResponseEnd(-1, Duration.ofMillis(2), 512, "reset"), 42)));
        assertThat(parsed).isEqualTo(dev.trellis.api.tap.v1.TapEvent.newBuilder().setDirection(dev.trellis.api.tap.v1.TapEvent.Direction.INBOUND)
                .setTime(com.google.protobuf.Timestamp.newBuilder().setSeconds(1_700_000_000L).setNanos(123_456_789))
                .setSource(dev.trellis.api.tap.v1.Peer.newBuilder().setAddress("10.0.0.1").setIdentity("spiffe://cluster.local/ns/a/sa/b"))
                .setDestination(dev.trellis.api.tap.v1.Peer.newBuilder().setAddress("10.0.0.2:8080").setIdentity("spiffe://cluster.local/ns/c/sa/d")
                        .putLabels("pod", "d-0"))
                .setResponseEnd(dev.trellis.api.tap.v1.ResponseEnd.newBuilder().setGrpcStatus(-1)
                        .setSinceRequestInit(com.google.protobuf.Duration.newBuilder().setNanos(2_000_000)).setResponseBytes(512).setError("reset"))
                .setStreamId(42).build());
        var request = dev.trellis.api.tap.v1.ObserveRequest.newBuilder().setLimit(10)
                .setMatch(dev.trellis.api.tap.v1.Match.newBuilder().setAuthority("web:80").setPathPrefix("/api").setMethod("GET")
                        .setSourceIdentity("s").setDestinationIdentity("d").setDestinationPort(8080)).build();
        assertThat(ObserveRequest.read(ProtoReader.of(request.toByteArray())))
                .isEqualTo(new ObserveRequest(new ObserveRequest.Match("web:80", "/api", "GET", "s", "d", 8080), 10));
    }

    @Test
    void skipsFieldsItDoesNotKnow() throws Exception {
        // A newer server's fields of every wire type, before and after the one the proxy reads.
        byte[] bytes = {
            (byte) 0xf8, 0x01, 0x05,                 // field 31, varint
            (byte) 0xf9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, // field 31, fixed64
            (byte) 0xfa, 0x01, 0x02, 0x00, 0x00,     // field 31, 2 bytes
            (byte) 0xfd, 0x01, 1, 2, 3, 4,           // field 31, fixed32
            0x0a, 0x02, 'n', 's',                    // namespace
        };
        assertThat(Workload.read(ProtoReader.of(bytes))).isEqualTo(new Workload("ns", ""));
    }
}
