package dev.trellis.proxy.discovery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Duration;
import dev.trellis.api.destination.v1.DestinationGrpc;
import dev.trellis.api.destination.v1.GetDestination;
import dev.trellis.api.destination.v1.Profile;
import dev.trellis.api.destination.v1.RequestMatch;
import dev.trellis.api.destination.v1.Route;
import dev.trellis.wire.grpc.GrpcClient;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Route matching on its own, with profiles from a real gRPC server on loopback: the first
 * route whose method and path (exact, or an anchored pattern; the query ignored) match wins,
 * a route with a bad pattern is skipped and the rest kept, and nothing matches before a
 * profile has come.
 */
class RouteProfilesTest {

    private static final String AUTHORITY = "web-svc.emojivoto.svc.cluster.local:80";

    private final List<String> asked = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    private Server server;
    private final EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private GrpcClient client;
    private RouteProfiles profiles;

    private static Route route(String name, String method, String path, String regex, boolean retryable, long timeoutMillis) {
        Route.Builder route = Route.newBuilder().setName(name).setIsRetryable(retryable)
                .setCondition(RequestMatch.newBuilder().setMethod(method).setPath(path).setPathRegex(regex));
        if (timeoutMillis > 0) {
            route.setTimeout(Duration.newBuilder().setNanos((int) (timeoutMillis * 1_000_000)));
        }
        return route.build();
    }

    @BeforeEach
    void start() throws Exception {
        Profile profile = Profile.newBuilder().setFullyQualifiedName("web-svc.emojivoto.svc.cluster.local")
                .addRoutes(route("vote", "POST", "", "/api/vote/[a-z]+", false, 300))
                .addRoutes(route("broken", "", "", "/api/(unclosed", true, 0))
                .addRoutes(route("list", "GET", "/api/list", "", true, 0))
                .addRoutes(route("anything-api", "", "", "/api/.*", false, 0))
                .build();
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new DestinationGrpc.DestinationImplBase() {
            @Override
            public void getProfile(GetDestination request, StreamObserver<Profile> responses) {
                asked.add(request.getAuthority() + " from " + request.getContextNamespace());
                if (request.getAuthority().startsWith("limited")) {
                    responses.onError(io.grpc.Status.RESOURCE_EXHAUSTED.withDescription("destination: streams_per_identity").asRuntimeException());
                    return;
                }
                responses.onNext(profile);
            }
        }).build().start();
        client = new GrpcClient(new GrpcClient.Config("127.0.0.1", server.getPort(), "destination.test", Optional.empty(), loop,
                NioSocketChannel.class, scheduler, 1024 * 1024, java.time.Duration.ofSeconds(5)));
        profiles = new RouteProfiles(client, scheduler, "emojivoto");
    }

    @AfterEach
    void stop() throws Exception {
        profiles.close();
        client.close();
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        scheduler.shutdownNow();
    }

    @Test
    void theFirstMatchingRouteWinsAndABadPatternIsSkipped() {
        assertThat(profiles.match(AUTHORITY, "GET", "/api/list")).as("before the profile came").isEqualTo(dev.trellis.proxy.routes.MatchedRoute.DEFAULT);
        await().atMost(java.time.Duration.ofSeconds(10)).until(() -> !profiles.match(AUTHORITY, "GET", "/api/list").equals(dev.trellis.proxy.routes.MatchedRoute.DEFAULT));
        assertThat(asked).containsExactly(AUTHORITY + " from emojivoto");

        assertThat(profiles.match(AUTHORITY, "GET", "/api/list?page=2"))
                .as("exact path, query ignored").isEqualTo(new dev.trellis.proxy.routes.MatchedRoute("list", true, Optional.empty()));
        assertThat(profiles.match(AUTHORITY, "post", "/api/vote/doughnut"))
                .as("method case-insensitive, anchored pattern, its timeout")
                .isEqualTo(new dev.trellis.proxy.routes.MatchedRoute("vote", false, Optional.of(java.time.Duration.ofMillis(300))));
        assertThat(profiles.match(AUTHORITY, "POST", "/api/vote/doughnut/extra").name())
                .as("the pattern is anchored: falls through to the next route").isEqualTo("anything-api");
        assertThat(profiles.match(AUTHORITY, "GET", "/api/(unclosed").name())
                .as("the route with the bad pattern is skipped, not matched literally").isEqualTo("anything-api");
        assertThat(profiles.match(AUTHORITY, "GET", "/health")).isEqualTo(dev.trellis.proxy.routes.MatchedRoute.DEFAULT);
    }

    @Test
    void aProfileTheServiceRefusesDoesNotHoldTrafficBack() throws Exception {
        String limited = "limited.emojivoto.svc.cluster.local:80";
        // The outbound side waits for this before it sends: a refusal ends the wait, and the default route applies.
        profiles.firstProfile(limited).get(10, TimeUnit.SECONDS);
        assertThat(profiles.match(limited, "GET", "/api/list")).isEqualTo(dev.trellis.proxy.routes.MatchedRoute.DEFAULT);
        assertThat(profiles.opaqueBackend(limited)).isEqualTo(limited);
        // A profile that comes ends it too.
        profiles.firstProfile(AUTHORITY).get(10, TimeUnit.SECONDS);
        assertThat(profiles.match(AUTHORITY, "GET", "/api/list").name()).isEqualTo("list");
    }

    @Test
    void profilesAreWatchedForAtMostAThousandAuthorities() {
        for (int i = 0; i < RouteProfiles.MAX_AUTHORITIES + 50; i++) {
            profiles.match("svc-" + i + ".emojivoto.svc.cluster.local:80", "GET", "/");
        }
        await().atMost(java.time.Duration.ofSeconds(20)).until(() -> asked.size() >= RouteProfiles.MAX_AUTHORITIES);
        assertThat(asked).hasSize(RouteProfiles.MAX_AUTHORITIES);
    }
}
