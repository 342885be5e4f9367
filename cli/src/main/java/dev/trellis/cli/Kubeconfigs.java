package dev.trellis.cli;

import dev.trellis.core.text.Causes;
import io.fabric8.kubernetes.api.model.NamedContext;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.internal.KubeConfigUtils;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The cluster a command talks to, from a kubeconfig as kubectl finds it ({@code --kubeconfig},
 * else {@code $KUBECONFIG}, else {@code ~/.kube/config}, else in-cluster), checked before use:
 * a file that cannot be read or parsed is named, and a {@code --context} the kubeconfig lacks
 * is refused, as kubectl refuses it — never the current cluster in its place.
 */
final class Kubeconfigs {

    private Kubeconfigs() {
    }

    /**
     * The client configuration for {@code context} (null: the current one) of {@code kubeconfig}
     * (null: the usual places); errors start with {@code command}.
     *
     * @throws IllegalArgumentException naming the file and what is wrong with it, or the context and the ones there are
     */
    static Config load(Path kubeconfig, String context, String command) {
        List<Path> files = new ArrayList<>();
        if (kubeconfig != null) {
            files.add(kubeconfig);
        } else {
            Config.getKubeconfigFilenames().stream().map(Path::of).filter(Files::isRegularFile).forEach(files::add);
        }
        Set<String> contexts = new TreeSet<>();
        String explicitText = null;
        for (Path file : files) {
            String text;
            try {
                text = Files.readString(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new IllegalArgumentException(command + ": cannot read kubeconfig " + file + ": " + describe(e));
            }
            io.fabric8.kubernetes.api.model.Config parsed;
            try {
                parsed = KubeConfigUtils.parseConfigFromString(text);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(command + ": " + file + " is not a kubeconfig: " + Causes.rootMessage(e));
            }
            if (parsed == null) {
                throw new IllegalArgumentException(command + ": " + file + " is not a kubeconfig: it is empty");
            }
            if (parsed.getContexts() != null) {
                parsed.getContexts().stream().map(NamedContext::getName).forEach(contexts::add);
            }
            explicitText = text;
        }
        if (context != null && !contexts.contains(context)) {
            throw new IllegalArgumentException(command + ": context \"" + context + "\" does not exist in " + (files.isEmpty() ? "any kubeconfig" : files)
                    + (contexts.isEmpty() ? "" : " (its contexts: " + String.join(", ", contexts) + ")"));
        }
        try {
            return kubeconfig != null ? Config.fromKubeconfig(context, explicitText, kubeconfig.toString()) : Config.autoConfigure(context);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(command + ": cannot use kubeconfig " + (files.isEmpty() ? "(in-cluster)" : files) + ": " + Causes.rootMessage(e));
        }
    }

    private static String describe(IOException e) {
        return e instanceof java.nio.file.NoSuchFileException ? "no such file" : e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
