package dev.trellis.proxy.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** What a plaintext request must be for a route (a kubelet probe's) to admit it alone. */
class PlaintextRequestTest {

    @Test
    void aProbeIsPassedOnAsOneRequestThatClosesTheConnection() {
        PlaintextRequest probe = PlaintextRequest.parse("GET /ready HTTP/1.1\r\nHost: 10.0.0.7:8080\r\nUser-Agent: kube-probe/1.31\r\n"
                + "Connection: keep-alive\r\nAccept: */*\r\n\r\n").orElseThrow();
        assertThat(probe.authorizerRequest().path()).isEqualTo("/ready");
        assertThat(probe.withConnectionClose()).isEqualTo("GET /ready HTTP/1.1\r\nHost: 10.0.0.7:8080\r\nUser-Agent: kube-probe/1.31\r\n"
                + "Accept: */*\r\nConnection: close\r\n\r\n");
    }

    @Test
    void bodiesUpgradesOtherMethodsAndMalformedHeadsAreNot() {
        assertThat(PlaintextRequest.parse("POST /ready HTTP/1.1\r\nHost: a\r\n\r\n")).isEmpty();
        assertThat(PlaintextRequest.parse("GET /ready HTTP/1.1\r\nContent-Length: 5\r\n\r\n")).isEmpty();
        assertThat(PlaintextRequest.parse("GET /ready HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")).isEmpty();
        assertThat(PlaintextRequest.parse("GET /ready HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAEAAEAAAAIAAAAA\r\n\r\n")
                .orElseThrow().withConnectionClose()).isEqualTo("GET /ready HTTP/1.1\r\nConnection: close\r\n\r\n");
        assertThat(PlaintextRequest.parse("GET http://other/ready HTTP/1.1\r\n\r\n")).isEmpty();
        assertThat(PlaintextRequest.parse("GET /ready HTTP/2.0\r\n\r\n")).isEmpty();
        assertThat(PlaintextRequest.parse("GET /ready HTTP/1.1\r\nno colon here\r\n\r\n")).isEmpty();
        assertThat(PlaintextRequest.parse("GET  /ready HTTP/1.1\r\n\r\n")).isEmpty();
        assertThat(PlaintextRequest.parse("HEAD /live HTTP/1.0\r\n\r\n")).isPresent();
    }
}
