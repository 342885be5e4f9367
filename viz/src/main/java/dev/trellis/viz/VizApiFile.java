package dev.trellis.viz;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/** The file that tells the CLI where the metrics API is and its token: {@code url=…} and {@code token=…}, owner-only. */
public final class VizApiFile {

    private VizApiFile() {
    }

    /** Where the metrics API listens and the token it wants. */
    public record Location(URI url, String token) {}

    private static final int MAX_BYTES = 4096;

    /**
     * Reads the file that {@link #write} wrote.
     *
     * @throws IOException naming the file and what is wrong with it: missing, too big, a line
     *         without {@code key=value}, a URL that is not {@code http://host:port}, no token
     */
    public static Location read(Path file) throws IOException {
        if (!Files.exists(file)) {
            throw new java.nio.file.NoSuchFileException(file.toString());
        }
        if (Files.size(file) > MAX_BYTES) {
            throw new IOException("viz: " + file + " is " + Files.size(file) + " bytes, not a metrics API file (at most " + MAX_BYTES + ")");
        }
        java.util.Map<String, String> values = new java.util.HashMap<>();
        int number = 0;
        for (String line : Files.readAllLines(file, java.nio.charset.StandardCharsets.UTF_8)) {
            number++;
            if (line.isBlank()) {
                continue;
            }
            int equals = line.indexOf('=');
            if (equals <= 0) {
                throw new IOException("viz: " + file + ":" + number + " is not key=value; the file should hold url=... and token=... as trellis demo writes it");
            }
            values.put(line.substring(0, equals).strip(), line.substring(equals + 1).strip());
        }
        String url = values.get("url");
        URI uri;
        try {
            uri = url == null ? null : new URI(url);
        } catch (java.net.URISyntaxException e) {
            uri = null;
        }
        if (uri == null || !"http".equals(uri.getScheme()) || uri.getHost() == null || uri.getPort() < 1) {
            throw new IOException("viz: " + file + " has no url=http://HOST:PORT line" + (url == null ? "" : " (url is '"
                    + dev.trellis.core.text.UntrustedText.printable(url, 80) + "')"));
        }
        String token = values.get("token");
        if (token == null || token.isEmpty()) {
            throw new IOException("viz: " + file + " has no token= line");
        }
        return new Location(uri, token);
    }

    /** Writes it atomically with mode 0600 (created so, never widened). */
    public static void write(Path file, VizApi api) throws IOException {
        Path temp = file.resolveSibling("." + file.getFileName() + ".tmp");
        Files.deleteIfExists(temp);
        Files.createFile(temp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(temp, "url=http://127.0.0.1:" + api.address().getPort() + "\ntoken=" + api.token() + "\n");
        Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
