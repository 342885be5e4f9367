package dev.trellis.proxy.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.api.policy.v1.Authorization;
import dev.trellis.api.policy.v1.EgressPolicy;
import dev.trellis.api.policy.v1.EgressRule;
import dev.trellis.api.policy.v1.HttpRoute;
import dev.trellis.api.policy.v1.HttpRouteMatch;
import dev.trellis.api.policy.v1.InboundServer;
import dev.trellis.api.policy.v1.MeshTls;
import dev.trellis.api.policy.v1.Network;
import dev.trellis.api.policy.v1.Unauthenticated;
import dev.trellis.core.identity.WorkloadIdentity;
import java.net.InetAddress;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class AuthorizersTest {

    private static final WorkloadIdentity WEB = new WorkloadIdentity("cluster.local", "emojivoto", "web");
    private static final WorkloadIdentity ROGUE = new WorkloadIdentity("cluster.local", "rogue", "x");

    private final CidrCache cidrs = new CidrCache();

    private static dev.trellis.wire.policy.InboundServer wire(InboundServer policy) {
        return dev.trellis.proxy.WireMessages.read(policy, dev.trellis.wire.policy.InboundServer::read);
    }

    private static dev.trellis.wire.policy.EgressPolicy wire(EgressPolicy policy) {
        return dev.trellis.proxy.WireMessages.read(policy, dev.trellis.wire.policy.EgressPolicy::read);
    }

    private static InetAddress ip(String text) throws Exception {
        return InetAddress.getByName(text);
    }

    private static InboundAuthorizer.Caller caller(Optional<WorkloadIdentity> identity, InetAddress source) {
        return new InboundAuthorizer.Caller(identity, source, "cluster.local");
    }

    @Test
    void anIdentityFromAnotherTrustDomainIsNotTheSameWorkload() throws Exception {
        WorkloadIdentity evilWeb = new WorkloadIdentity("evil.example", "emojivoto", "web");
        InboundServer exact = InboundServer.newBuilder()
                .addAuthorizations(Authorization.newBuilder().setMeshTls(MeshTls.newBuilder().addIdentities(WEB.spiffeId()))).build();
        InboundServer any = InboundServer.newBuilder()
                .addAuthorizations(Authorization.newBuilder().setMeshTls(MeshTls.newBuilder().setAny(true))).build();
        InboundServer namespace = InboundServer.newBuilder()
                .addAuthorizations(Authorization.newBuilder().setMeshTls(MeshTls.newBuilder().addPatterns("spiffe://cluster.local/ns/emojivoto/sa/*"))).build();
        for (InboundServer policy : java.util.List.of(exact, any, namespace)) {
            assertThat(InboundAuthorizer.connection(wire(policy), caller(Optional.of(WEB), ip("10.0.0.1")), cidrs).allowed()).isTrue();
            assertThat(InboundAuthorizer.connection(wire(policy), caller(Optional.of(evilWeb), ip("10.0.0.1")), cidrs).allowed()).as("%s", policy).isFalse();
        }
        // A pattern the proxy cannot parse admits nobody, and a pattern is never matched as a substring.
        InboundServer garbled = InboundServer.newBuilder()
                .addAuthorizations(Authorization.newBuilder().setMeshTls(MeshTls.newBuilder().addPatterns("ns/emojivoto/sa/"))).build();
        assertThat(InboundAuthorizer.connection(wire(garbled), caller(Optional.of(WEB), ip("10.0.0.1")), cidrs).allowed()).isFalse();
    }

    @Test
    void meshTlsAuthorizationsNeedTheRightIdentity() throws Exception {
        InboundServer policy = InboundServer.newBuilder().putLabels("name", "voting-http")
                .addAuthorizations(Authorization.newBuilder().setMeshTls(MeshTls.newBuilder().addIdentities(WEB.spiffeId())).putLabels("name", "web-only"))
                .build();
        assertThat(InboundAuthorizer.connection(wire(policy), caller(Optional.of(WEB), ip("10.0.0.1")), cidrs).allowed()).isTrue();
        assertThat(InboundAuthorizer.connection(wire(policy), caller(Optional.of(ROGUE), ip("10.0.0.1")), cidrs).allowed()).isFalse();
        assertThat(InboundAuthorizer.connection(wire(policy), caller(Optional.empty(), ip("10.0.0.1")), cidrs).allowed()).isFalse();
    }

    @Test
    void networksAndExceptionsBound() throws Exception {
        InboundServer policy = InboundServer.newBuilder()
                .addAuthorizations(Authorization.newBuilder().setUnauthenticated(Unauthenticated.getDefaultInstance())
                        .addNetworks(Network.newBuilder().setCidr("10.0.0.0/8").addExcept("10.9.0.0/16")))
                .build();
        assertThat(InboundAuthorizer.connection(wire(policy), caller(Optional.empty(), ip("10.1.2.3")), cidrs).allowed()).isTrue();
        assertThat(InboundAuthorizer.connection(wire(policy), caller(Optional.empty(), ip("10.9.2.3")), cidrs).allowed()).isFalse();
        assertThat(InboundAuthorizer.connection(wire(policy), caller(Optional.empty(), ip("192.168.0.1")), cidrs).allowed()).isFalse();
        assertThat(InboundAuthorizer.connection(wire(policy), caller(Optional.empty(), ip("::1")), cidrs).allowed()).isFalse();
    }

    @Test
    void aRouteAuthorizesItsOwnPathsOnly() throws Exception {
        InboundServer policy = InboundServer.newBuilder()
                .addRoutes(HttpRoute.newBuilder().setName("probe")
                        .addMatches(HttpRouteMatch.newBuilder().setPathExact("/ready").setMethod("GET"))
                        .addAuthorizations(Authorization.newBuilder().setUnauthenticated(Unauthenticated.getDefaultInstance())))
                .build();
        assertThat(InboundAuthorizer.request(wire(policy), caller(Optional.empty(), ip("10.0.0.1")), new InboundAuthorizer.Request("GET", "/ready?x=1"), cidrs).allowed()).isTrue();
        assertThat(InboundAuthorizer.request(wire(policy), caller(Optional.empty(), ip("10.0.0.1")), new InboundAuthorizer.Request("POST", "/ready"), cidrs).allowed()).isFalse();
        assertThat(InboundAuthorizer.request(wire(policy), caller(Optional.of(WEB), ip("10.0.0.1")), new InboundAuthorizer.Request("GET", "/api"), cidrs).allowed()).isFalse();
    }

    @Test
    void egressAllowListDeniesTheRest() throws Exception {
        EgressPolicy policy = EgressPolicy.newBuilder().setMode(EgressPolicy.Mode.ALLOW)
                .addAllow(EgressRule.newBuilder().setHost("*.example.com").addPorts(443))
                .addAllow(EgressRule.newBuilder().setCidr("10.0.0.0/8"))
                .build();
        assertThat(EgressAuthorizer.decide(wire(policy), Optional.of("api.example.com"), true, ip("93.184.216.34"), 443, cidrs)).isEqualTo(EgressAuthorizer.Decision.ALLOWED);
        assertThat(EgressAuthorizer.decide(wire(policy), Optional.of("example.com"), true, ip("93.184.216.34"), 443, cidrs)).isEqualTo(EgressAuthorizer.Decision.DENIED);
        assertThat(EgressAuthorizer.decide(wire(policy), Optional.of("api.example.com"), true, ip("93.184.216.34"), 80, cidrs)).isEqualTo(EgressAuthorizer.Decision.DENIED);
        assertThat(EgressAuthorizer.decide(wire(policy), Optional.empty(), true, ip("10.3.3.3"), 5432, cidrs)).isEqualTo(EgressAuthorizer.Decision.ALLOWED);
        assertThat(EgressAuthorizer.decide(wire(policy), Optional.of("evil.example.com.attacker.net"), true, ip("1.2.3.4"), 443, cidrs)).isEqualTo(EgressAuthorizer.Decision.DENIED);
    }

    @Test
    void egressDenyAndAuditModes() throws Exception {
        EgressRule metadata = EgressRule.newBuilder().setCidr("169.254.169.254/32").build();
        EgressPolicy deny = EgressPolicy.newBuilder().setMode(EgressPolicy.Mode.DENY).addDeny(metadata).build();
        assertThat(EgressAuthorizer.decide(wire(deny), Optional.empty(), true, ip("169.254.169.254"), 80, cidrs)).isEqualTo(EgressAuthorizer.Decision.DENIED);
        assertThat(EgressAuthorizer.decide(wire(deny), Optional.empty(), true, ip("8.8.8.8"), 53, cidrs)).isEqualTo(EgressAuthorizer.Decision.ALLOWED);
        EgressPolicy audit = deny.toBuilder().setMode(EgressPolicy.Mode.AUDIT).build();
        assertThat(EgressAuthorizer.decide(wire(audit), Optional.empty(), true, ip("169.254.169.254"), 80, cidrs)).isEqualTo(EgressAuthorizer.Decision.AUDIT_DENIED);
    }

    @Test
    void anAllowRuleForANameCountsOnlyWhenTheNameWasVerifiedButADenyRuleAlwaysDoes() throws Exception {
        EgressPolicy allow = EgressPolicy.newBuilder().setMode(EgressPolicy.Mode.ALLOW)
                .addAllow(EgressRule.newBuilder().setHost("*.allowed.test")).build();
        assertThat(EgressAuthorizer.decide(wire(allow), Optional.of("x.allowed.test"), false, ip("10.9.9.9"), 443, cidrs)).isEqualTo(EgressAuthorizer.Decision.DENIED);
        assertThat(EgressAuthorizer.decide(wire(allow), Optional.of("x.allowed.test"), true, ip("10.9.9.9"), 443, cidrs)).isEqualTo(EgressAuthorizer.Decision.ALLOWED);
        assertThat(EgressAuthorizer.allowsByName(wire(allow), Optional.of("x.allowed.test"), 443)).isTrue();
        assertThat(EgressAuthorizer.allowsByName(wire(allow), Optional.of("x.denied.test"), 443)).isFalse();
        EgressPolicy deny = EgressPolicy.newBuilder().setMode(EgressPolicy.Mode.DENY)
                .addDeny(EgressRule.newBuilder().setHost("*.denied.test")).build();
        assertThat(EgressAuthorizer.decide(wire(deny), Optional.of("a.denied.test"), false, ip("10.9.9.9"), 443, cidrs)).isEqualTo(EgressAuthorizer.Decision.DENIED);
    }

    @Test
    void httpHostIsReadFromTheRequestHead() {
        assertThat(EgressGate.httpHost("GET / HTTP/1.1\r\nUser-Agent: x\r\nHOST: Api.Example.com:8080\r\n\r\n")).hasValue("api.example.com");
        assertThat(EgressGate.httpHost("GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\nHost: smuggled\r\n")).isEmpty();
        // Found by RequestHeadFuzzTest: a lone CR must not glue another header into the host.
        assertThat(EgressGate.httpHost("GET / HTTP/1.1\r\nHOST: [::1]:80\r%\nX: y\r\n\r\n")).isEmpty();
        assertThat(EgressGate.httpHost("GET / HTTP/1.1\nHost: a.example\n\n")).hasValue("a.example");
        assertThat(EgressGate.httpHost("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n")).as("two Hosts: ambiguous").isEmpty();
        // Servers obey an absolute-form target over Host: it is what is checked, and the two must agree.
        assertThat(EgressGate.httpHost("GET http://a.example:8080/x HTTP/1.1\r\nHost: a.example:8080\r\n\r\n")).hasValue("a.example");
        assertThat(EgressGate.httpHost("GET http://evil.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n")).isEmpty();
        assertThat(EgressGate.httpHost("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n")).hasValue("[::1]");
    }
}
