package dev.trellis.proxy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** Plain TCP apps for proxy tests: an echo server and a server that speaks first. */
final class TcpServers implements AutoCloseable {

    private final ServerSocket socket;

    private TcpServers(ServerSocket socket, boolean banner) {
        this.socket = socket;
        Thread.ofPlatform().daemon().start(() -> {
            while (!socket.isClosed()) {
                try {
                    Socket client = socket.accept();
                    Thread.ofPlatform().daemon().start(() -> serve(client, banner));
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
        return new TcpServers(new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress()), false);
    }

    /** Sends "220 trellis-test ready\r\n" on connect, then echoes. */
    static TcpServers banner() throws IOException {
        return new TcpServers(new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress()), true);
    }

    int port() {
        return socket.getLocalPort();
    }

    private static void serve(Socket client, boolean banner) {
        try (client; InputStream in = client.getInputStream(); OutputStream out = client.getOutputStream()) {
            if (banner) {
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
