package dev.trellis.cluster.local;

import static java.util.Objects.requireNonNull;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.cluster.SnapshotListeners;
import dev.trellis.cluster.manifest.ManifestParser;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cluster state from a directory of manifests ({@code *.yaml}, {@code *.yml}, sub-directories
 * included): what {@code trellis demo} and local development use. The directory is checked
 * every poll interval (modification times and sizes) and read again when anything changed. A
 * file that cannot be used leaves the last good state in force and is reported, with its path
 * and line, by {@link #problem()} and the log, until it is fixed. Limits: 1,000 files, 4 MiB
 * each. Thread-safe.
 */
public final class LocalDirectorySource implements ClusterSource {

    private static final Logger log = LoggerFactory.getLogger(LocalDirectorySource.class);
    static final int MAX_FILES = 1000;

    private final Path directory;
    private final ManifestParser parser = new ManifestParser();
    private final SnapshotListeners snapshots = new SnapshotListeners();
    private final ScheduledExecutorService poller;
    private volatile Optional<String> problem = Optional.empty();
    private volatile boolean synced;
    /** Null until the first read: an empty directory is a state too, and must be loaded (and reported synced) once. */
    private String lastFingerprint;
    private long generation;

    private LocalDirectorySource(Path directory) {
        this.directory = directory;
        this.poller = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("trellis-local-cluster").daemon().factory());
    }

    /**
     * Reads {@code directory} now and then every {@code pollInterval}.
     *
     * @throws IllegalArgumentException when the directory does not exist
     */
    public static LocalDirectorySource start(Path directory, Duration pollInterval) {
        requireNonNull(directory, "directory");
        if (!Files.isDirectory(directory)) {
            throw new IllegalArgumentException("cluster: local state directory " + directory + " does not exist");
        }
        LocalDirectorySource source = new LocalDirectorySource(directory.toAbsolutePath().normalize());
        try {
            source.poller.submit(source::poll).get();
        } catch (Exception e) {
            throw new IllegalStateException("cluster: first read of " + directory + " failed", e);
        }
        source.poller.scheduleWithFixedDelay(source::poll, pollInterval.toMillis(), pollInterval.toMillis(), TimeUnit.MILLISECONDS);
        return source;
    }

    private void poll() {
        try {
            List<Path> files = manifests();
            String fingerprint = fingerprint(files);
            if (fingerprint.equals(lastFingerprint)) {
                return;
            }
            lastFingerprint = fingerprint;
            load(files);
        } catch (IOException | RuntimeException e) {
            report("cluster: cannot read " + directory + ": " + e.getMessage());
        }
    }

    private void load(List<Path> files) throws IOException {
        if (files.size() > MAX_FILES) {
            report("cluster: " + directory + " holds " + files.size() + " manifests; at most " + MAX_FILES + " are read. Keeping the last good state.");
            return;
        }
        ClusterSnapshot.Builder builder = new ClusterSnapshot.Builder();
        List<HasMetadata> objects = new java.util.ArrayList<>();
        for (Path file : files) {
            long size = Files.size(file);
            if (size > ManifestParser.MAX_FILE_BYTES) {
                report("cluster: " + file + ": " + size + " bytes; at most " + ManifestParser.MAX_FILE_BYTES + ". Keeping the last good state.");
                return;
            }
            try {
                parser.parse(file.toString(), Files.readString(file, StandardCharsets.UTF_8)).stream()
                        .map(LocalDirectorySource::inDefaultNamespace).forEach(objects::add);
            } catch (ManifestParser.ManifestException e) {
                report("cluster: " + e.getMessage() + ". Keeping the last good state.");
                return;
            } catch (java.nio.charset.MalformedInputException e) {
                report("cluster: " + file + ": not UTF-8 text. Keeping the last good state.");
                return;
            }
        }
        objects.forEach(builder::add);
        // Kubernetes' endpoint controller is not here: Services with a selector get the slices it would write.
        DerivedEndpointSlices.of(objects).forEach(builder::add);
        ClusterSnapshot snapshot = builder.build(++generation);
        if (problem.isPresent()) {
            log.info("cluster: {} is readable again", directory);
        }
        problem = Optional.empty();
        synced = true;
        log.info("cluster: loaded {} ({} files): {}", directory, files.size(), snapshot.sizes());
        snapshots.publish(snapshot);
    }

    private void report(String message) {
        if (!problem.equals(Optional.of(message))) {
            log.error(message);
        }
        problem = Optional.of(message);
    }

    private List<Path> manifests() throws IOException {
        try (Stream<Path> walk = Files.walk(directory, 4)) {
            return walk.filter(Files::isRegularFile)
                    .filter(p -> {
                        String name = p.getFileName().toString();
                        return !name.startsWith(".") && (name.endsWith(".yaml") || name.endsWith(".yml"));
                    })
                    .sorted()
                    .limit(MAX_FILES + 1L)
                    .toList();
        }
    }

    private static String fingerprint(List<Path> files) throws IOException {
        StringBuilder out = new StringBuilder();
        for (Path file : files) {
            BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
            out.append(file).append('|').append(attributes.lastModifiedTime().toMillis()).append('|').append(attributes.size()).append('\n');
        }
        return out.toString();
    }

    @Override
    public ClusterSnapshot current() {
        return snapshots.current();
    }

    @Override
    public AutoCloseable subscribe(Consumer<ClusterSnapshot> listener) {
        return snapshots.subscribe(listener);
    }

    @Override
    public boolean synced() {
        return synced;
    }

    @Override
    public Optional<String> problem() {
        return problem;
    }

    @Override
    public String describe() {
        return "local " + directory;
    }

    @Override
    public void close() {
        poller.shutdownNow();
    }

    /** As kubectl would: a namespaced object written without a namespace goes to "default". */
    static HasMetadata inDefaultNamespace(HasMetadata object) {
        if (object.getMetadata().getNamespace() == null && !"Namespace".equals(object.getKind())) {
            object.getMetadata().setNamespace("default");
        }
        return object;
    }
}
