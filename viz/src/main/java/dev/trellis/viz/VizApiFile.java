package dev.trellis.viz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/** The file that tells the CLI where the metrics API is and its token: {@code url=…} and {@code token=…}, owner-only. */
public final class VizApiFile {

    private VizApiFile() {
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
