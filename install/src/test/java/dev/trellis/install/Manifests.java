package dev.trellis.install;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.lang.reflect.Method;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/** Reads rendered manifests back the strict way: typed objects only, and no field the model does not know. */
final class Manifests {

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    private Manifests() {
    }

    /** A deterministic random, so two renderings can be compared. */
    static SecureRandom seeded() {
        try {
            SecureRandom random = SecureRandom.getInstance("SHA1PRNG");
            random.setSeed(42);
            return random;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Every document of {@code stream} as its typed fabric8 class; an unknown kind (which fabric8
     * reads as a generic resource) or a field that lands in a model's additionalProperties
     * fails, naming the object and the field.
     */
    static List<HasMetadata> parseStrictly(String stream) throws Exception {
        List<HasMetadata> objects = new ArrayList<>();
        for (String document : stream.split("(?m)^---\\s*$")) {
            if (document.isBlank()) {
                continue;
            }
            HasMetadata object = SERIALIZATION.unmarshal(document, HasMetadata.class);
            String name = object.getKind() + " " + (object.getMetadata().getNamespace() == null ? "" : object.getMetadata().getNamespace() + "/") + object.getMetadata().getName();
            if (object instanceof GenericKubernetesResource) {
                throw new AssertionError(name + " is not a kind the typed model knows");
            }
            List<String> unknown = new ArrayList<>();
            walk(object, "", unknown);
            if (!unknown.isEmpty()) {
                throw new AssertionError(name + " has fields the model does not know: " + unknown);
            }
            objects.add(object);
        }
        return objects;
    }

    private static void walk(Object value, String path, List<String> unknown) throws Exception {
        if (value == null) {
            return;
        }
        if (value instanceof Collection<?> items) {
            int i = 0;
            for (Object item : items) {
                walk(item, path + "[" + i++ + "]", unknown);
            }
            return;
        }
        if (value instanceof Map<?, ?> map) {
            for (Map.Entry<?, ?> entry : map.entrySet()) {
                walk(entry.getValue(), path + "." + entry.getKey(), unknown);
            }
            return;
        }
        if (!value.getClass().getName().startsWith("io.fabric8.")) {
            return;
        }
        for (Method method : value.getClass().getMethods()) {
            if (method.getParameterCount() != 0 || !method.getName().startsWith("get") || method.getDeclaringClass() == Object.class) {
                continue;
            }
            Object child = method.invoke(value);
            if (method.getName().equals("getAdditionalProperties")) {
                if (child instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    extra.keySet().forEach(key -> unknown.add(path + "." + key));
                }
                continue;
            }
            walk(child, path + "." + decapitalize(method.getName().substring(3)), unknown);
        }
    }

    private static String decapitalize(String name) {
        return name.isEmpty() ? name : Character.toLowerCase(name.charAt(0)) + name.substring(1);
    }
}
