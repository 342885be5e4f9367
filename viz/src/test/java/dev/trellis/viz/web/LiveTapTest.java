package dev.trellis.viz.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.api.tap.v1.Peer;
import dev.trellis.api.tap.v1.RequestInit;
import dev.trellis.api.tap.v1.ResponseEnd;
import dev.trellis.api.tap.v1.ResponseInit;
import dev.trellis.api.tap.v1.TapEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

class LiveTapTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private static TapEvent.Builder event(long stream, String dst) {
        return TapEvent.newBuilder().setDirection(TapEvent.Direction.INBOUND).setStreamId(stream)
                .setSource(Peer.newBuilder().setAddress("10.0.0.1").setIdentity("spiffe://cluster.local/ns/shop/sa/web"))
                .setDestination(Peer.newBuilder().setAddress(dst).setIdentity("spiffe://cluster.local/ns/shop/sa/api"));
    }

    private static void request(LiveTap tap, long stream, String dst, String path, int status) {
        tap.accept(event(stream, dst).setRequestInit(RequestInit.newBuilder().setMethod("GET").setPath(path).setAuthority("api")).build(), 1000);
        tap.accept(event(stream, dst).setResponseInit(ResponseInit.newBuilder().setStatus(status)).build(), 1001);
        tap.accept(event(stream, dst).setResponseEnd(ResponseEnd.newBuilder().setSinceRequestInit(com.google.protobuf.Duration.newBuilder().setNanos(2_500_000)))
                .build(), 1002);
    }

    private static LiveTap.Filter filter(String json) {
        return LiveTap.Filter.parse(JSON.readTree(json));
    }

    @Test
    void aRequestsThreeEventsBecomeOneLineWhenItEnds() {
        List<LiveTap.Line> lines = new ArrayList<>();
        LiveTap tap = new LiveTap(filter("{\"namespace\":\"shop\"}"), lines::add);
        tap.accept(event(7, "10.0.0.2:8080").setRequestInit(RequestInit.newBuilder().setMethod("POST").setPath("/buy")).build(), 1000);
        tap.accept(event(7, "10.0.0.3:8080").setRequestInit(RequestInit.newBuilder().setMethod("GET").setPath("/other-proxy")).build(), 1000);
        tap.accept(event(7, "10.0.0.2:8080").setResponseInit(ResponseInit.newBuilder().setStatus(201)).build(), 1001);
        assertThat(lines).isEmpty();
        tap.accept(event(7, "10.0.0.2:8080").setResponseEnd(ResponseEnd.newBuilder().setSinceRequestInit(com.google.protobuf.Duration.newBuilder().setNanos(4_000_000)))
                .build(), 1004);
        assertThat(lines).singleElement().satisfies(line -> {
            assertThat(line.method()).isEqualTo("POST");
            assertThat(line.path()).as("the same stream id of another proxy is another request").isEqualTo("/buy");
            assertThat(line.status()).isEqualTo(201);
            assertThat(line.latencyMs()).isEqualTo(4.0);
            assertThat(line.at()).isEqualTo(1000);
            assertThat(line.direction()).isEqualTo("in");
        });
    }

    @Test
    void theStatusFilterKeepsOnlyThatStatus() {
        List<LiveTap.Line> lines = new ArrayList<>();
        LiveTap tap = new LiveTap(filter("{\"namespace\":\"shop\",\"status\":\"503\"}"), lines::add);
        request(tap, 1, "a:1", "/ok", 200);
        request(tap, 2, "a:1", "/down", 503);
        assertThat(lines).extracting(LiveTap.Line::path).containsExactly("/down");
    }

    @Test
    void requestsWaitingForTheirEndAreBounded() {
        List<LiveTap.Line> lines = new ArrayList<>();
        LiveTap tap = new LiveTap(filter("{\"namespace\":\"shop\"}"), lines::add);
        for (int i = 0; i <= LiveTap.MAX_OPEN; i++) {
            tap.accept(event(i, "a:1").setRequestInit(RequestInit.newBuilder().setMethod("GET").setPath("/" + i)).build(), 1000);
        }
        tap.accept(event(0, "a:1").setResponseEnd(ResponseEnd.newBuilder()).build(), 1001);
        assertThat(lines).as("the oldest was let go").isEmpty();
        tap.accept(event(LiveTap.MAX_OPEN, "a:1").setResponseEnd(ResponseEnd.newBuilder()).build(), 1001);
        assertThat(lines).hasSize(1);
    }

    @Test
    void aFilterSaysWhatIsWrongWithIt() {
        assertThat(filter("{\"namespace\":\"shop\",\"name\":\"web\",\"path\":\"/api\",\"method\":\"get\",\"status\":404}"))
                .isEqualTo(new LiveTap.Filter("shop", Optional.of(new dev.trellis.cluster.Workloads.Workload("Deployment", "web")), "/api", "GET", Optional.of(404)));
        assertThatThrownBy(() -> filter("{}")).hasMessageContaining("a namespace is required");
        assertThatThrownBy(() -> filter("{\"namespace\":\"shop\",\"path\":\"api\"}")).hasMessageContaining("path must start with /");
        assertThatThrownBy(() -> filter("{\"namespace\":\"shop\",\"method\":\"G T\"}")).hasMessageContaining("method must be letters");
        assertThatThrownBy(() -> filter("{\"namespace\":\"shop\",\"status\":\"700\"}")).hasMessageContaining("HTTP status");
        assertThatThrownBy(() -> filter("{\"namespace\":\"shop\",\"name\":\"x\",\"kind\":\"Ship\"}")).hasMessageContaining("kind 'Ship'");
        assertThatThrownBy(() -> filter("{\"namespace\":\"" + "a".repeat(300) + "\"}")).hasMessageContaining("longer than 253");
    }
}
