package dev.trellis.demo.app;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The traffic generator: votes at a steady rate through its own proxy (the port it is given
 * is the proxy's local forward to web), one request at a time per worker. Runs until closed.
 */
public final class VoteBot implements AutoCloseable {

    private static final List<String> CHOICES = List.copyOf(EmojiApp.EMOJI.keySet());

    private final AtomicBoolean running = new AtomicBoolean(true);
    private final java.util.concurrent.CompletableFuture<java.time.Instant> firstSuccess = new java.util.concurrent.CompletableFuture<>();
    private final List<Thread> workers;

    private VoteBot(int webPort, int workers, Duration pause) {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).version(HttpClient.Version.HTTP_1_1).build();
        this.workers = java.util.stream.IntStream.range(0, workers).mapToObj(i -> Thread.ofVirtual().name("vote-bot-" + i).start(() -> {
            while (running.get()) {
                String choice = CHOICES.get(ThreadLocalRandom.current().nextInt(CHOICES.size()));
                try {
                    HttpResponse<Void> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + webPort + "/api/vote?choice=" + choice))
                            .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding());
                    if (response.statusCode() == 200) {
                        firstSuccess.complete(java.time.Instant.now());
                    }
                } catch (java.io.IOException e) {
                    // the mesh is starting or stopping: try again after the pause
                } catch (InterruptedException e) {
                    return;
                }
                try {
                    Thread.sleep(pause);
                } catch (InterruptedException e) {
                    return;
                }
            }
        })).toList();
    }

    /** {@code workers} voters, each pausing {@code pause} between votes. */
    public static VoteBot start(int webPort, int workers, Duration pause) {
        return new VoteBot(webPort, workers, pause);
    }

    /** When the first vote went through the whole mesh (web, emoji and voting) successfully. */
    public java.util.concurrent.CompletableFuture<java.time.Instant> firstSuccess() {
        return firstSuccess;
    }

    @Override
    public void close() throws InterruptedException {
        running.set(false);
        for (Thread worker : workers) {
            worker.interrupt();
            worker.join(2000);
        }
    }
}
