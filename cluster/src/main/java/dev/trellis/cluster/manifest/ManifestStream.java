package dev.trellis.cluster.manifest;

import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.List;

/** Kubernetes objects as one YAML stream for {@code kubectl apply -f -}: one document each, in order. */
public final class ManifestStream {

    /** fabric8's own mapper settings, with YAML that quotes only what must be quoted. */
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization(
            tools.jackson.databind.json.JsonMapper.builderWithJackson2Defaults()
                    .addModule(new io.fabric8.kubernetes.model.jackson.Jackson2JdkTypesModule()).build(),
            true, new io.fabric8.kubernetes.client.utils.YamlDumpSettingsBuilder().setMinimizeQuotes(true).build());

    private ManifestStream() {
    }

    public static String yaml(List<? extends KubernetesResource> objects) {
        StringBuilder out = new StringBuilder();
        for (KubernetesResource object : objects) {
            String document = SERIALIZATION.asYaml(object);
            out.append(document.startsWith("---") ? document : "---\n" + document);
            if (!document.endsWith("\n")) {
                out.append('\n');
            }
        }
        return out.toString();
    }
}
