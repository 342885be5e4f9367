package dev.trellis.proxy.inbound;

import dev.trellis.proxy.policy.InboundAuthorizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * A plaintext HTTP/1 request head that a route may admit on its own: a GET or HEAD, HTTP/1.0
 * or 1.1, without a body; an upgrade offer is dropped. Parsed strictly; anything else is empty.
 */
record PlaintextRequest(String method, String path, String version, List<String> headers) {

    /** Dropped on the way: the one request ends the connection, so nothing is kept alive or upgraded (an h2c offer is declined this way). */
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection", "te", "upgrade", "http2-settings");

    static Optional<PlaintextRequest> parse(String head) {
        String[] lines = head.split("\r\n", -1);
        String[] requestLine = lines[0].split(" ", -1);
        if (requestLine.length != 3 || !(requestLine[0].equals("GET") || requestLine[0].equals("HEAD"))
                || !requestLine[1].startsWith("/") || !(requestLine[2].equals("HTTP/1.1") || requestLine[2].equals("HTTP/1.0"))) {
            return Optional.empty();
        }
        List<String> headers = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            String line = lines[i];
            if (line.isEmpty()) {
                continue;
            }
            int colon = line.indexOf(':');
            if (colon <= 0 || line.indexOf('\r') >= 0 || line.indexOf('\n') >= 0) {
                return Optional.empty();
            }
            String name = line.substring(0, colon).strip().toLowerCase(Locale.ROOT);
            if (name.equals("content-length") && !line.substring(colon + 1).strip().equals("0") || name.equals("transfer-encoding")) {
                return Optional.empty();
            }
            if (!HOP_BY_HOP.contains(name)) {
                headers.add(line);
            }
        }
        return Optional.of(new PlaintextRequest(requestLine[0], requestLine[1], requestLine[2], List.copyOf(headers)));
    }

    InboundAuthorizer.Request authorizerRequest() {
        return new InboundAuthorizer.Request(method, path);
    }

    /** The head as the app gets it: the same request, asking the app to close after answering. */
    String withConnectionClose() {
        StringBuilder out = new StringBuilder(method).append(' ').append(path).append(' ').append(version).append("\r\n");
        headers.forEach(h -> out.append(h).append("\r\n"));
        return out.append("Connection: close\r\n\r\n").toString();
    }
}
