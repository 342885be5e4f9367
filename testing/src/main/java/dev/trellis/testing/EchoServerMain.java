package dev.trellis.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * A TCP echo app for tests that run it as a separate process:
 * {@code EchoServerMain <bind-address> <port> [banner]}; with {@code banner} it speaks first,
 * sending {@code 220 trellis-test ready\r\n} on connect, like SMTP or MySQL.
 */
public final class EchoServerMain {

    private EchoServerMain() {}

    public static void main(String[] args) throws IOException {
        boolean banner = args.length > 2 && args[2].equals("banner");
        try (ServerSocket server = new ServerSocket(Integer.parseInt(args[1]), 50, InetAddress.getByName(args[0]))) {
            System.out.println("echo: listening on " + server.getLocalSocketAddress());
            while (true) {
                Socket client = server.accept();
                Thread.ofPlatform().daemon().start(() -> {
                    try (client; InputStream in = client.getInputStream(); OutputStream out = client.getOutputStream()) {
                        if (banner) {
                            out.write("220 trellis-test ready\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                            out.flush();
                        }
                        in.transferTo(out);
                    } catch (IOException ignored) {
                        // client went away
                    }
                });
            }
        }
    }
}
