package dev.trellis.node.handoff;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What the node agent and the node proxy say to each other over their Unix socket, one
 * message per {@code SOCK_SEQPACKET} packet, descriptors alongside. The agent announces the
 * pods the proxy serves ({@link Serve}, with their listening sockets made in each pod's
 * network namespace) and those it no longer does ({@link Forget}); the proxy asks for
 * connections from inside a pod ({@link Connect}), answered by {@link Connected} (the
 * connected socket alongside) or {@link ConnectFailed}.
 *
 * <p>Every message is at most {@value #MAX_BYTES} bytes and every text at most
 * {@value #MAX_TEXT} bytes: a message over either is a {@link IOException} naming it.
 */
public sealed interface HandoffMessage {

    int MAX_BYTES = 16 * 1024;
    int MAX_TEXT = 1024;

    /** The listening sockets a {@link Serve} carries, in this order. */
    enum Listener { INBOUND, OUTBOUND, TAP }

    /** A pod this node proxy now serves; its listeners' descriptors come with it, one per {@link Listener}. */
    record Serve(PodRef pod) implements HandoffMessage {}

    /** A pod this node proxy serves no more: its listeners close, its connections end. */
    record Forget(String uid) implements HandoffMessage {}

    /** Please connect from inside pod {@code uid} to {@code remote}; answered with the same {@code id}. */
    record Connect(long id, String uid, InetSocketAddress remote) implements HandoffMessage {}

    /** The connection {@code id} asked for; its socket comes with it. */
    record Connected(long id) implements HandoffMessage {}

    /** The connection {@code id} asked for could not be made, and why. */
    record ConnectFailed(long id, String reason) implements HandoffMessage {}

    /** A pod as the agent knows it: who it runs as and where. */
    record PodRef(String uid, String namespace, String name, String serviceAccount, String ip) {
        public String shortName() {
            return namespace + "/" + name;
        }
    }

    /** The bytes of this message. */
    default byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            switch (this) {
                case Serve s -> {
                    out.writeByte(1);
                    text(out, s.pod().uid());
                    text(out, s.pod().namespace());
                    text(out, s.pod().name());
                    text(out, s.pod().serviceAccount());
                    text(out, s.pod().ip());
                }
                case Forget f -> {
                    out.writeByte(2);
                    text(out, f.uid());
                }
                case Connect c -> {
                    out.writeByte(3);
                    out.writeLong(c.id());
                    text(out, c.uid());
                    byte[] address = c.remote().getAddress().getAddress();
                    out.writeByte(address.length);
                    out.write(address);
                    out.writeShort(c.remote().getPort());
                }
                case Connected c -> {
                    out.writeByte(4);
                    out.writeLong(c.id());
                }
                case ConnectFailed c -> {
                    out.writeByte(5);
                    out.writeLong(c.id());
                    text(out, c.reason().length() > 300 ? c.reason().substring(0, 300) : c.reason());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (bytes.size() > MAX_BYTES) {
            throw new IllegalArgumentException("handoff: a message of " + bytes.size() + " bytes is over " + MAX_BYTES);
        }
        return bytes.toByteArray();
    }

    /** The message in {@code bytes}. */
    static HandoffMessage decode(byte[] bytes) throws IOException {
        if (bytes.length > MAX_BYTES) {
            throw new IOException("handoff: a message of " + bytes.length + " bytes is over " + MAX_BYTES);
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            int type = in.readUnsignedByte();
            HandoffMessage message = switch (type) {
                case 1 -> new Serve(new PodRef(text(in), text(in), text(in), text(in), text(in)));
                case 2 -> new Forget(text(in));
                case 3 -> {
                    long id = in.readLong();
                    String uid = text(in);
                    int length = in.readUnsignedByte();
                    if (length != 4 && length != 16) {
                        throw new IOException("handoff: an address of " + length + " bytes");
                    }
                    byte[] address = in.readNBytes(length);
                    yield new Connect(id, uid, new InetSocketAddress(InetAddress.getByAddress(address), in.readUnsignedShort()));
                }
                case 4 -> new Connected(in.readLong());
                case 5 -> new ConnectFailed(in.readLong(), text(in));
                default -> throw new IOException("handoff: unknown message type " + type);
            };
            if (in.available() > 0) {
                throw new IOException("handoff: " + in.available() + " bytes after a message of type " + type);
            }
            return message;
        } catch (EOFException e) {
            throw new IOException("handoff: a message cut short", e);
        }
    }

    /** How many descriptors a message of this kind carries. */
    default int descriptors() {
        return switch (this) {
            case Serve s -> Listener.values().length;
            case Connected c -> 1;
            default -> 0;
        };
    }

    private static void text(DataOutputStream out, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_TEXT) {
            throw new IllegalArgumentException("handoff: a text of " + bytes.length + " bytes is over " + MAX_TEXT);
        }
        out.writeShort(bytes.length);
        out.write(bytes);
    }

    private static String text(DataInputStream in) throws IOException {
        int length = in.readUnsignedShort();
        if (length > MAX_TEXT) {
            throw new IOException("handoff: a text of " + length + " bytes is over " + MAX_TEXT);
        }
        return new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    /** Lists {@code fds} as the receiver owns them: closes them all. */
    static void closeAll(List<Integer> fds) {
        new ArrayList<>(fds).forEach(LinuxSockets::close);
    }
}
