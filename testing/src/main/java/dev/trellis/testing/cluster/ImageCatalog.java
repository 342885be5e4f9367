package dev.trellis.testing.cluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The images the simulated cluster can run, read from the project's Dockerfile rather than
 * restated: for each target labelled {@code dev.trellis.image=NAME}, its ENTRYPOINT, CMD, ENV
 * and USER (inherited from the stages it builds on), and its files — each {@code COPY}
 * becomes a bind mount of the host path it copies (a path in the repository, or, for a
 * {@code COPY --from} of a build stage, the host path standing in for that stage's output,
 * such as the running JDK for a jlinked runtime).
 */
public final class ImageCatalog {

    /** One runnable image. */
    public record Image(String name, List<String> entrypoint, List<String> cmd, Map<String, String> env, Optional<Long> user,
                        Map<String, Path> files) {}

    private final Map<String, Image> images;

    private ImageCatalog(Map<String, Image> images) {
        this.images = Map.copyOf(images);
    }

    /**
     * Reads {@code dockerfile} (its COPY sources relative to {@code context}); {@code stageOutputs}
     * maps {@code STAGE:/path} of a build stage's output to the host path that stands in for it.
     */
    public static ImageCatalog read(Path dockerfile, Path context, Map<String, Path> stageOutputs) throws IOException {
        Map<String, Stage> stages = new LinkedHashMap<>();
        Stage current = null;
        for (String line : logicalLines(Files.readAllLines(dockerfile))) {
            String[] words = line.strip().split("\\s+", 2);
            String instruction = words[0].toUpperCase(java.util.Locale.ROOT);
            String rest = words.length > 1 ? words[1].strip() : "";
            switch (instruction) {
                case "FROM" -> {
                    Matcher from = Pattern.compile("(\\S+)(?:\\s+AS\\s+(\\S+))?", Pattern.CASE_INSENSITIVE).matcher(rest);
                    if (!from.matches()) {
                        throw new IOException(dockerfile + ": cannot read FROM " + rest);
                    }
                    current = new Stage(from.group(2), stages.get(from.group(1)));
                    if (current.name != null) {
                        stages.put(current.name, current);
                    }
                }
                case "ENV" -> requireStage(current, dockerfile, line).env.putAll(keyValues(rest));
                case "LABEL" -> {
                    String image = keyValues(rest).get("dev.trellis.image");
                    if (image != null) {
                        requireStage(current, dockerfile, line).image = image;
                    }
                }
                case "USER" -> requireStage(current, dockerfile, line).user = Optional.of(Long.parseLong(rest.split(":")[0]));
                case "ENTRYPOINT" -> requireStage(current, dockerfile, line).entrypoint = jsonArray(rest, dockerfile);
                case "CMD" -> requireStage(current, dockerfile, line).cmd = jsonArray(rest, dockerfile);
                case "COPY" -> {
                    Stage stage = requireStage(current, dockerfile, line);
                    List<String> parts = new ArrayList<>(List.of(rest.split("\\s+")));
                    Optional<String> fromStage = Optional.empty();
                    if (parts.getFirst().startsWith("--from=")) {
                        fromStage = Optional.of(parts.removeFirst().substring("--from=".length()));
                    }
                    if (parts.size() != 2) {
                        throw new IOException(dockerfile + ": COPY with other than one source is not simulated: " + line);
                    }
                    String source = parts.get(0).replaceAll("/$", "");
                    String target = parts.get(1).replaceAll("/$", "");
                    Path host = fromStage.isPresent()
                            ? Optional.ofNullable(stageOutputs.get(fromStage.get() + ":" + source))
                                    .orElseThrow(() -> new IOException(dockerfile + ": no stand-in for the output of stage " + line))
                            : context.resolve(source);
                    stage.files.put(target, host);
                }
                default -> {
                    // RUN, ARG and the like shape build stages; the simulation does not need them
                }
            }
        }
        Map<String, Image> images = new HashMap<>();
        for (Stage stage : stages.values()) {
            if (stage.image != null) {
                images.put(stage.image, stage.resolve());
            }
        }
        return new ImageCatalog(images);
    }

    /** This catalog and {@code image} (a test's own application image, say). */
    public ImageCatalog with(Image image) {
        Map<String, Image> all = new HashMap<>(images);
        all.put(image.name(), image);
        return new ImageCatalog(all);
    }

    /** The image named by a reference such as {@code ghcr.io/trellis-dev/controller:0.2.0}. */
    public Image image(String reference) {
        String withoutTag = reference.replaceAll(":[^:/]+$", "");
        String name = withoutTag.substring(withoutTag.lastIndexOf('/') + 1);
        Image image = images.get(name);
        if (image == null) {
            throw new IllegalArgumentException("simulated cluster: no Dockerfile target builds image " + reference + " (known: " + images.keySet() + ")");
        }
        return image;
    }

    private static Stage requireStage(Stage stage, Path dockerfile, String line) throws IOException {
        if (stage == null) {
            throw new IOException(dockerfile + ": '" + line + "' before any FROM");
        }
        return stage;
    }

    private static List<String> logicalLines(List<String> physical) {
        List<String> lines = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : physical) {
            if (line.strip().startsWith("#") || line.isBlank()) {
                continue;
            }
            if (line.endsWith("\\")) {
                current.append(line, 0, line.length() - 1).append(' ');
                continue;
            }
            current.append(line);
            lines.add(current.toString());
            current.setLength(0);
        }
        return lines;
    }

    private static Map<String, String> keyValues(String text) {
        Map<String, String> values = new LinkedHashMap<>();
        Matcher pair = Pattern.compile("([A-Za-z0-9_.-]+)=(\"[^\"]*\"|\\S+)").matcher(text);
        while (pair.find()) {
            values.put(pair.group(1), pair.group(2).replaceAll("^\"|\"$", ""));
        }
        return values;
    }

    private static List<String> jsonArray(String text, Path dockerfile) throws IOException {
        if (!text.startsWith("[") || !text.endsWith("]")) {
            throw new IOException(dockerfile + ": only the exec (JSON) form is simulated: " + text);
        }
        List<String> items = new ArrayList<>();
        Matcher item = Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(text);
        while (item.find()) {
            items.add(item.group(1).replace("\\\"", "\"").replace("\\\\", "\\"));
        }
        return items;
    }

    private static final class Stage {
        final String name;
        final Stage parent;
        final Map<String, String> env = new LinkedHashMap<>();
        final Map<String, Path> files = new LinkedHashMap<>();
        String image;
        Optional<Long> user = Optional.empty();
        List<String> entrypoint;
        List<String> cmd;

        Stage(String name, Stage parent) {
            this.name = name;
            this.parent = parent;
        }

        Image resolve() {
            Map<String, String> allEnv = new LinkedHashMap<>();
            Map<String, Path> allFiles = new LinkedHashMap<>();
            Optional<Long> effectiveUser = Optional.empty();
            List<String> effectiveEntrypoint = List.of();
            List<String> effectiveCmd = List.of();
            List<Stage> lineage = new ArrayList<>();
            for (Stage s = this; s != null; s = s.parent) {
                lineage.addFirst(s);
            }
            for (Stage s : lineage) {
                allEnv.putAll(s.env);
                allFiles.putAll(s.files);
                effectiveUser = s.user.isPresent() ? s.user : effectiveUser;
                effectiveEntrypoint = s.entrypoint != null ? s.entrypoint : effectiveEntrypoint;
                effectiveCmd = s.cmd != null ? s.cmd : effectiveCmd;
            }
            return new Image(image, effectiveEntrypoint, effectiveCmd, allEnv, effectiveUser, allFiles);
        }
    }
}
