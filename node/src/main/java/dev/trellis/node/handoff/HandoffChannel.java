package dev.trellis.node.handoff;

import java.io.IOException;
import java.util.List;

/**
 * One end of the agent–proxy Unix socket: whole {@link HandoffMessage}s in and out, each
 * with exactly the descriptors its kind carries. Sends are serialized (any thread); one
 * thread receives. A message with the wrong number of descriptors is an error, and what
 * came with it is closed: the receiver never holds a descriptor it did not expect.
 */
public final class HandoffChannel implements AutoCloseable {

    /** A message received, and the descriptors that came with it (the receiver's to close). */
    public record Envelope(HandoffMessage message, List<Integer> fds) {}

    private final int fd;
    private volatile boolean closed;

    public HandoffChannel(int fd) {
        this.fd = fd;
    }

    /** Sends {@code message} with {@code fds} (duplicated into the peer; the caller keeps and closes its own). */
    public synchronized void send(HandoffMessage message, List<Integer> fds) throws IOException {
        if (fds.size() != message.descriptors()) {
            throw new IllegalArgumentException("handoff: " + message.getClass().getSimpleName() + " carries " + message.descriptors()
                    + " descriptors, not " + fds.size());
        }
        if (closed) {
            throw new IOException("handoff: the channel is closed");
        }
        LinuxSockets.send(fd, message.encode(), fds);
    }

    /** The next message (blocking), or null when the peer has gone. */
    public Envelope receive() throws IOException {
        LinuxSockets.Received received = LinuxSockets.receive(fd, HandoffMessage.MAX_BYTES);
        if (received == null) {
            return null;
        }
        HandoffMessage message;
        try {
            message = HandoffMessage.decode(received.bytes());
        } catch (IOException e) {
            HandoffMessage.closeAll(received.fds());
            throw e;
        }
        if (received.fds().size() != message.descriptors()) {
            HandoffMessage.closeAll(received.fds());
            throw new IOException("handoff: " + message.getClass().getSimpleName() + " came with " + received.fds().size()
                    + " descriptors, not " + message.descriptors());
        }
        return new Envelope(message, received.fds());
    }

    /** Who is at the other end, as the kernel saw them connect. */
    public LinuxSockets.PeerCredentials peer() throws IOException {
        return LinuxSockets.peer(fd);
    }

    /** Ends the channel: a receiver blocked on it sees the end, the descriptor is closed. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        LinuxSockets.shutdown(fd);
        LinuxSockets.close(fd);
    }
}
