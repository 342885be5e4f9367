package dev.trellis.node.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.node.handoff.LinuxSockets;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ConnectPollerTest {

    @Test
    void destinationsThatNeverAnswerDoNotDelayOneThatDoes() throws Exception {
        InetAddress loopback = InetAddress.getLoopbackAddress();
        // A listener that never accepts, its queue full: further connects to it hang (their SYNs are dropped).
        try (ServerSocket stuck = new ServerSocket(0, 1, loopback); ServerSocket answering = new ServerSocket(0, 50, loopback);
             ConnectPoller poller = new ConnectPoller()) {
            List<Socket> filling = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Socket socket = new Socket();
                try {
                    socket.connect(stuck.getLocalSocketAddress(), 200);
                } catch (java.io.IOException full) {
                    // the queue is full already
                }
                filling.add(socket);
            }
            List<CompletableFuture<Optional<String>>> hanging = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                hanging.add(start(poller, (InetSocketAddress) stuck.getLocalSocketAddress(), Duration.ofMillis(1500)));
            }
            long started = System.nanoTime();
            Optional<String> fast = start(poller, (InetSocketAddress) answering.getLocalSocketAddress(), Duration.ofSeconds(5)).get(5, TimeUnit.SECONDS);
            assertThat(fast).isEmpty();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).as("while 20 connects hang").isLessThan(Duration.ofMillis(500));
            for (CompletableFuture<Optional<String>> one : hanging) {
                assertThat(one.get(5, TimeUnit.SECONDS)).hasValueSatisfying(why -> assertThat(why).contains("timed out"));
            }
            for (Socket socket : filling) {
                socket.close();
            }
        }
    }

    @Test
    void aRefusedConnectEndsAtOnceWithTheReason() throws Exception {
        int closedPort;
        try (ServerSocket gone = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = gone.getLocalPort();
        }
        try (ConnectPoller poller = new ConnectPoller()) {
            Optional<String> refused = start(poller, new InetSocketAddress(InetAddress.getLoopbackAddress(), closedPort), Duration.ofSeconds(5))
                    .get(5, TimeUnit.SECONDS);
            assertThat(refused).hasValueSatisfying(why -> assertThat(why).contains("refused"));
        }
    }

    /** Starts a connect as the agent does (non-blocking) and watches it; the outcome, with the descriptor closed. */
    private static CompletableFuture<Optional<String>> start(ConnectPoller poller, InetSocketAddress remote, Duration timeout) throws Exception {
        CompletableFuture<Optional<String>> outcome = new CompletableFuture<>();
        int fd = LinuxSockets.tcpSocket(remote.getAddress(), 0);
        try {
            if (LinuxSockets.startConnect(fd, remote)) {
                LinuxSockets.close(fd);
                outcome.complete(Optional.empty());
                return outcome;
            }
        } catch (java.io.IOException e) {
            LinuxSockets.close(fd);
            outcome.complete(Optional.of(e.getMessage()));
            return outcome;
        }
        poller.watch(new ConnectPoller.Pending(fd, remote, System.nanoTime() + timeout.toNanos(), result -> {
            LinuxSockets.close(fd);
            outcome.complete(result);
        }));
        return outcome;
    }
}
