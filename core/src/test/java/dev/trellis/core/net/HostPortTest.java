package dev.trellis.core.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class HostPortTest {

    @Test
    void parsesNamesV4AndBracketedV6() {
        assertThat(HostPort.parse("127.0.0.1:4191")).isEqualTo(new HostPort("127.0.0.1", 4191));
        assertThat(HostPort.parse("[::1]:8080")).isEqualTo(new HostPort("::1", 8080));
        assertThat(HostPort.parse("identity.trellis:8080").host()).isEqualTo("identity.trellis");
        assertThat(new HostPort("::1", 80)).hasToString("[::1]:80");
        assertThat(HostPort.parse("[::1]:80").isLoopback()).isTrue();
        assertThat(HostPort.parse("0.0.0.0:80").isLoopback()).isFalse();
    }

    @Test
    void refusesMalformedAddresses() {
        assertThatThrownBy(() -> HostPort.parse("8080")).hasMessageContaining("not host:port");
        assertThatThrownBy(() -> HostPort.parse("::1:80")).hasMessageContaining("brackets");
        assertThatThrownBy(() -> HostPort.parse("host:http")).hasMessageContaining("no numeric port");
        assertThatThrownBy(() -> HostPort.parse("host:70000")).hasMessageContaining("outside 0-65535");
    }
}
