package dev.trellis.proxy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** Plain TCP apps for proxy tests: an echo server, a server that speaks first, and one that half-closes first. */
final class TcpServers implements AutoCloseable {

    private enum Kind { ECHO, BANNER, SAYS_ALL_FIRST }

    private final ServerSocket socket;
    private final java.util.concurrent.atomic.AtomicLong received = new java.util.concurrent.atomic.AtomicLong();

    private TcpServers(ServerSocket socket, Kind kind) {
        this.socket = socket;
        Thread.ofPlatform().daemon().start(() -> {
            while (!socket.isClosed()) {
                try {
                    Socket client = socket.accept();
                    Thread.ofPlatform().daemon().start(() -> serve(client, kind));
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    /** A loopback port nothing listens on (bound once, then closed): connecting to it is refused. */
    static int refusingPort() throws IOException {
        try (java.net.ServerSocket closed = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return closed.getLocalPort();
        }
    }

    static TcpServers echo() throws IOException {
        return new TcpServers(new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress()), Kind.ECHO);
    }

    /** Sends "220 trellis-test ready\r\n" on connect, then echoes. */
    static TcpServers banner() throws IOException {
        return new TcpServers(new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress()), Kind.BANNER);
    }

    /**
     * Sends "bye\r\n" on connect and ends its sending side (a half-close), then reads what
     * the client sends until the client ends too, counting it in {@link #received()}.
     */
    static TcpServers saysAllFirst() throws IOException {
        return new TcpServers(new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress()), Kind.SAYS_ALL_FIRST);
    }

    /** Bytes a {@link #saysAllFirst()} server has read, over all its connections. */
    long received() {
        return received.get();
    }

    int port() {
        return socket.getLocalPort();
    }

    private void serve(Socket client, Kind kind) {
        try (client; InputStream in = client.getInputStream(); OutputStream out = client.getOutputStream()) {
            if (kind == Kind.SAYS_ALL_FIRST) {
                out.write("bye\r\n".getBytes(StandardCharsets.US_ASCII));
                client.shutdownOutput();
                byte[] buffer = new byte[16384];
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    received.addAndGet(n);
                }
                return;
            }
            if (kind == Kind.BANNER) {
                out.write("220 trellis-test ready\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
            in.transferTo(out);
        } catch (IOException ignored) {
            // the client went away
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
