package dev.trellis.demo.app;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.trellis.api.demo.v1.EmojiServiceGrpc;
import dev.trellis.api.demo.v1.FindByShortcodeRequest;
import dev.trellis.api.demo.v1.FindByShortcodeResponse;
import dev.trellis.api.demo.v1.VoteRequest;
import dev.trellis.api.demo.v1.VotingServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The web front end: {@code GET /api/vote?choice=:shortcode} looks the emoji up and casts the
 * vote, over gRPC to emoji and voting through its proxy (the ports it is given are the
 * proxy's local forwards), and answers JSON; 502 when a call behind it failed.
 */
public final class WebApp implements AutoCloseable {

    private final HttpServer server;
    private final ManagedChannel emoji;
    private final ManagedChannel voting;

    private WebApp(HttpServer server, ManagedChannel emoji, ManagedChannel voting) {
        this.server = server;
        this.emoji = emoji;
        this.voting = voting;
    }

    public static WebApp start(int emojiPort, int votingPort) throws IOException {
        ManagedChannel emoji = NettyChannelBuilder.forAddress("127.0.0.1", emojiPort).usePlaintext().build();
        ManagedChannel voting = NettyChannelBuilder.forAddress("127.0.0.1", votingPort).usePlaintext().build();
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 128);
        WebApp app = new WebApp(server, emoji, voting);
        server.createContext("/api/vote", app::vote);
        server.createContext("/", exchange -> {
            try (exchange) {
                send(exchange, 200, "{\"app\":\"trellis demo web\"}");
            }
        });
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.start();
        return app;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private void vote(HttpExchange exchange) throws IOException {
        try (exchange) {
            String query = exchange.getRequestURI().getQuery();
            String choice = query != null && query.startsWith("choice=") ? query.substring("choice=".length()) : ":joy:";
            try {
                FindByShortcodeResponse found = EmojiServiceGrpc.newBlockingStub(emoji).withDeadlineAfter(5, TimeUnit.SECONDS)
                        .findByShortcode(FindByShortcodeRequest.newBuilder().setShortcode(choice).build());
                long votes = VotingServiceGrpc.newBlockingStub(voting).withDeadlineAfter(5, TimeUnit.SECONDS)
                        .vote(VoteRequest.newBuilder().setShortcode(choice).build()).getVotes();
                send(exchange, 200, "{\"emoji\":\"" + found.getUnicode() + "\",\"votes\":" + votes + ",\"served_by\":\"" + found.getServedBy() + "\"}");
            } catch (StatusRuntimeException e) {
                send(exchange, 502, "{\"error\":\"" + e.getStatus().getCode() + "\"}");
            }
        }
    }

    private static void send(HttpExchange exchange, int status, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, body.length);
        exchange.getResponseBody().write(body);
    }

    @Override
    public void close() {
        server.stop(0);
        emoji.shutdownNow();
        voting.shutdownNow();
    }
}
