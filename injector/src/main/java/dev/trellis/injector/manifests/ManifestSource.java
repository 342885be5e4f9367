package dev.trellis.injector.manifests;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Where {@code trellis inject} reads manifests: a file, a directory (its {@code .yaml},
 * {@code .yml} and {@code .json} files, depth 8), standard input ({@code -}) or an
 * {@code https://} URL — verified against the system's trusted CAs, 10 s to connect, 30 s in
 * all, no redirect to plain HTTP. Plain {@code http://} and every other scheme are refused
 * (threat-model finding 3: a manifest fetched in the clear can be rewritten on the way).
 * Every source is at most {@value #MAX_BYTES} bytes, and a directory at most
 * {@value #MAX_FILES} files.
 */
public final class ManifestSource {

    /** As much as one manifest file may hold (the parser's limit). */
    static final int MAX_BYTES = dev.trellis.cluster.manifest.ManifestParser.MAX_FILE_BYTES;
    static final int MAX_FILES = 1000;

    /** One manifest file's text and the name errors call it by. */
    public record Named(String name, String text) {}

    private final HttpClient http;

    /** Fetches with the system's trust store. */
    public ManifestSource() {
        this(HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).followRedirects(HttpClient.Redirect.NORMAL).build());
    }

    /** Fetches with {@code http} (tests give it their own trust store). */
    ManifestSource(HttpClient http) {
        this.http = http;
    }

    /** The manifests at {@code location}; {@code stdin} for {@code -}. */
    public List<Named> read(String location, InputStream stdin) throws IOException, InterruptedException {
        if (location.equals("-")) {
            return List.of(new Named("<stdin>", limited(stdin, "<stdin>")));
        }
        int scheme = location.indexOf("://");
        if (scheme > 0) {
            String name = location.substring(0, scheme).toLowerCase(Locale.ROOT);
            if (name.equals("http")) {
                throw new IOException("inject: refusing " + location + ": manifests are fetched over https only, since one fetched in the clear "
                        + "can be rewritten on the way (threat-model finding 3); use https:// or download it and check it first");
            }
            if (!name.equals("https")) {
                throw new IOException("inject: refusing " + location + ": only files, directories, - and https:// URLs are read");
            }
            return List.of(new Named(location, fetch(URI.create(location))));
        }
        Path path = Path.of(location);
        if (Files.isDirectory(path)) {
            List<Path> files;
            try (Stream<Path> walk = Files.walk(path, 8)) {
                files = walk.filter(Files::isRegularFile).filter(ManifestSource::isManifest).sorted().limit(MAX_FILES + 1L).toList();
            }
            if (files.size() > MAX_FILES) {
                throw new IOException("inject: " + path + " holds more than " + MAX_FILES + " manifest files");
            }
            List<Named> all = new ArrayList<>();
            for (Path file : files) {
                all.add(new Named(file.toString(), readFile(file)));
            }
            return all;
        }
        return List.of(new Named(path.toString(), readFile(path)));
    }

    private static boolean isManifest(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".yaml") || name.endsWith(".yml") || name.endsWith(".json");
    }

    private static String readFile(Path file) throws IOException {
        if (Files.size(file) > MAX_BYTES) {
            throw new IOException("inject: " + file + " is over " + MAX_BYTES + " bytes");
        }
        return Files.readString(file, StandardCharsets.UTF_8);
    }

    private String fetch(URI uri) throws IOException, InterruptedException {
        HttpResponse<InputStream> response;
        try {
            response = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new IOException("inject: cannot fetch " + uri + ": " + describe(e), e);
        }
        try (InputStream body = response.body()) {
            if (!response.uri().getScheme().equalsIgnoreCase("https")) {
                throw new IOException("inject: " + uri + " redirected to " + response.uri() + ", which is not https");
            }
            if (response.statusCode() != 200) {
                throw new IOException("inject: " + uri + " answered HTTP " + response.statusCode());
            }
            return limited(body, uri.toString());
        }
    }

    /** What went wrong, in words: the JDK's client often throws a ConnectException with no message of its own. */
    static String describe(IOException e) {
        for (Throwable cause = e; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            switch (cause) {
                case java.net.ConnectException refused -> {
                    return "connection refused" + (refused.getMessage() == null || refused.getMessage().isBlank() ? "" : " (" + refused.getMessage() + ")");
                }
                case java.net.http.HttpConnectTimeoutException timeout -> {
                    return "no connection within 10 s";
                }
                case java.net.http.HttpTimeoutException timeout -> {
                    return "no answer within 30 s";
                }
                case java.net.UnknownHostException unknown -> {
                    return "unknown host " + unknown.getMessage();
                }
                case javax.net.ssl.SSLHandshakeException handshake -> {
                    return "TLS handshake failed: " + handshake.getMessage();
                }
                default -> {
                }
            }
        }
        for (Throwable cause = e; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            if (cause.getMessage() != null && !cause.getMessage().isBlank()) {
                return cause.getMessage();
            }
        }
        return e.getClass().getSimpleName();
    }

    private static String limited(InputStream in, String name) throws IOException {
        byte[] bytes = in.readNBytes(MAX_BYTES + 1);
        if (bytes.length > MAX_BYTES) {
            throw new IOException("inject: " + name + " is over " + MAX_BYTES + " bytes");
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
