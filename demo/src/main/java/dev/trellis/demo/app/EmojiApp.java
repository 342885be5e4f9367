package dev.trellis.demo.app;

import dev.trellis.api.demo.v1.EmojiServiceGrpc;
import dev.trellis.api.demo.v1.FindByShortcodeRequest;
import dev.trellis.api.demo.v1.FindByShortcodeResponse;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The emoji service: looks up an emoji by shortcode. Each replica says who it is, so balancing shows. */
public final class EmojiApp implements AutoCloseable {

    static final Map<String, String> EMOJI = Map.of(
            ":joy:", "😂", ":doughnut:", "🍩", ":rocket:", "🚀", ":taco:", "🌮", ":unicorn:", "🦄", ":sunglasses:", "😎");

    private final Server server;

    private EmojiApp(Server server) {
        this.server = server;
    }

    public static EmojiApp start(String replica) throws IOException {
        Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new EmojiServiceGrpc.EmojiServiceImplBase() {
                    @Override
                    public void findByShortcode(FindByShortcodeRequest request, StreamObserver<FindByShortcodeResponse> responses) {
                        String unicode = EMOJI.get(request.getShortcode());
                        if (unicode == null) {
                            responses.onError(Status.NOT_FOUND.withDescription("no emoji " + request.getShortcode()).asRuntimeException());
                            return;
                        }
                        responses.onNext(FindByShortcodeResponse.newBuilder().setShortcode(request.getShortcode()).setUnicode(unicode)
                                .setServedBy(replica).build());
                        responses.onCompleted();
                    }
                })
                .build().start();
        return new EmojiApp(server);
    }

    public int port() {
        return ((InetSocketAddress) server.getListenSockets().getFirst()).getPort();
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
}
