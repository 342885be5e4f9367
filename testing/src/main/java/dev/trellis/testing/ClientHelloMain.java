package dev.trellis.testing;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * A client for egress tests: {@code ClientHelloMain <ip> <port> <server-name>} opens a TCP
 * connection to {@code ip:port} and sends a TLS ClientHello naming {@code server-name} (SNI),
 * as an app that pinned an address would; prints {@code answered N} with the bytes that came
 * back within 3 s (an echo server echoes the hello), or {@code closed} when the connection
 * was closed first.
 */
public final class ClientHelloMain {

    private ClientHelloMain() {}

    public static void main(String[] args) throws Exception {
        SSLEngine engine = SSLContext.getDefault().createSSLEngine(args[2], Integer.parseInt(args[1]));
        engine.setUseClientMode(true);
        SSLParameters parameters = engine.getSSLParameters();
        parameters.setServerNames(List.of(new SNIHostName(args[2])));
        engine.setSSLParameters(parameters);
        ByteBuffer hello = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.beginHandshake();
        engine.wrap(ByteBuffer.allocate(0), hello);
        hello.flip();
        try (Socket socket = new Socket(InetAddress.getByName(args[0]), Integer.parseInt(args[1]))) {
            socket.setSoTimeout(3000);
            socket.getOutputStream().write(hello.array(), 0, hello.limit());
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[hello.limit()];
            int total = 0;
            try {
                int read;
                while (total < buffer.length && (read = in.read(buffer, total, buffer.length - total)) > 0) {
                    total += read;
                }
            } catch (java.net.SocketTimeoutException | java.net.SocketException e) {
                // what came back so far counts
            }
            System.out.println(total > 0 ? "answered " + total : "closed");
        }
    }
}
