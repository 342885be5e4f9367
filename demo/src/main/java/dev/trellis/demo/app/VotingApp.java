package dev.trellis.demo.app;

import dev.trellis.api.demo.v1.VoteRequest;
import dev.trellis.api.demo.v1.VoteResponse;
import dev.trellis.api.demo.v1.VotingServiceGrpc;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/** The voting service: counts votes, and fails {@code failureShare} of them (UNAVAILABLE), so that a success rate below 100 % shows. */
public final class VotingApp implements AutoCloseable {

    private final Server server;

    private VotingApp(Server server) {
        this.server = server;
    }

    public static VotingApp start(double failureShare) throws IOException {
        Map<String, AtomicLong> votes = new ConcurrentHashMap<>();
        Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new VotingServiceGrpc.VotingServiceImplBase() {
                    @Override
                    public void vote(VoteRequest request, StreamObserver<VoteResponse> responses) {
                        if (ThreadLocalRandom.current().nextDouble() < failureShare) {
                            responses.onError(Status.UNAVAILABLE.withDescription("voting: the ballot box is jammed").asRuntimeException());
                            return;
                        }
                        long count = votes.computeIfAbsent(request.getShortcode(), k -> new AtomicLong()).incrementAndGet();
                        responses.onNext(VoteResponse.newBuilder().setVotes(count).build());
                        responses.onCompleted();
                    }
                })
                .build().start();
        return new VotingApp(server);
    }

    public int port() {
        return ((InetSocketAddress) server.getListenSockets().getFirst()).getPort();
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
}
