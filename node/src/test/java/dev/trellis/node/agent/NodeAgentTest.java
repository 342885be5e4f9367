package dev.trellis.node.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.core.net.HostPort;
import dev.trellis.node.handoff.HandoffChannel;
import dev.trellis.node.handoff.HandoffMessage;
import dev.trellis.node.handoff.LinuxSockets;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's socket attacked: who may talk to it, and what it does with what it cannot use. */
class NodeAgentTest {

    @TempDir
    Path dir;

    @Test
    void aPeerOfAnotherUidIsRefused() throws Exception {
        try (NodeAgent agent = start(myUid() + 1)) {
            try (HandoffChannel peer = new HandoffChannel(LinuxSockets.unixConnect(dir.resolve("agent.sock")))) {
                assertThat(receiveOrEnd(peer)).as("closed at once, nothing served").isNull();
            }
        }
    }

    @Test
    void aConnectForAPodThisNodeDoesNotServeIsRefusedWithTheReason() throws Exception {
        try (NodeAgent agent = start(myUid());
             HandoffChannel peer = new HandoffChannel(LinuxSockets.unixConnect(dir.resolve("agent.sock")))) {
            peer.send(new HandoffMessage.Connect(7, "uid-of-a-pod-elsewhere", new InetSocketAddress("127.0.0.1", 9)), List.of());
            HandoffChannel.Envelope answer = peer.receive();
            assertThat(answer.message()).isInstanceOfSatisfying(HandoffMessage.ConnectFailed.class, failed -> {
                assertThat(failed.id()).isEqualTo(7);
                assertThat(failed.reason()).contains("not served by this node");
            });
            assertThat(answer.fds()).isEmpty();
        }
    }

    @Test
    void aMessageThatIsNotOneEndsTheSession() throws Exception {
        try (NodeAgent agent = start(myUid())) {
            int fd = LinuxSockets.unixConnect(dir.resolve("agent.sock"));
            try (HandoffChannel peer = new HandoffChannel(fd)) {
                LinuxSockets.send(fd, new byte[] {99, 1, 2, 3}, List.of());
                assertThat(receiveOrEnd(peer)).isNull();
            }
        }
    }

    @Test
    void messagesAreBoundedAndCarryExactlyTheirDescriptors() {
        assertThatThrownBy(() -> new HandoffMessage.Forget("x".repeat(HandoffMessage.MAX_TEXT + 1)).encode())
                .hasMessageContaining("over " + HandoffMessage.MAX_TEXT);
        byte[] tooLong = new byte[HandoffMessage.MAX_TEXT + 3];
        tooLong[0] = 2;
        tooLong[1] = (byte) ((HandoffMessage.MAX_TEXT + 1) >> 8);
        tooLong[2] = (byte) (HandoffMessage.MAX_TEXT + 1);
        assertThatThrownBy(() -> HandoffMessage.decode(tooLong)).hasMessageContaining("over " + HandoffMessage.MAX_TEXT);
        assertThatThrownBy(() -> HandoffMessage.decode(new byte[] {3, 0, 0})).hasMessageContaining("cut short");
        assertThat(new HandoffMessage.Connected(1).descriptors()).isEqualTo(1);
        assertThat(new HandoffMessage.Serve(new HandoffMessage.PodRef("u", "ns", "p", "sa", "10.0.0.1")).descriptors())
                .isEqualTo(HandoffMessage.Listener.values().length);
    }

    private NodeAgent start(int proxyUid) throws IOException {
        NodeAgent.Settings settings = new NodeAgent.Settings(dir.resolve("agent.sock"), proxyUid, 0, new HostPort("127.0.0.1", 0),
                new HostPort("127.0.0.1", 0), new HostPort("127.0.0.1", 0), Duration.ofSeconds(1), 4, Duration.ofSeconds(10));
        PodFeed none = new PodFeed() {
            @Override
            public Map<String, HandoffMessage.PodRef> current() {
                return Map.of();
            }

            @Override
            public AutoCloseable subscribe(Consumer<Map<String, HandoffMessage.PodRef>> changed) {
                return () -> { };
            }

            @Override
            public void close() {
            }
        };
        return NodeAgent.start(settings, none, pod -> {
            throw new IOException("no pods here");
        });
    }

    /** The next message, or null when the agent ended the session (an end may also arrive as a reset). */
    private static HandoffChannel.Envelope receiveOrEnd(HandoffChannel peer) {
        try {
            return peer.receive();
        } catch (IOException reset) {
            return null;
        }
    }

    private static int myUid() throws IOException {
        return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    }
}
