package dev.trellis.injector;

import dev.trellis.core.settings.ProxyMode;
import dev.trellis.cluster.Workloads;
import dev.trellis.core.metadata.MetadataKeys;
import dev.trellis.core.net.Cidr;
import dev.trellis.core.settings.DefaultInboundPolicy;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The annotations that steer injection, read from the namespace and the pod (the pod's win),
 * each checked: a value that does not parse refuses the pod, naming the annotation, rather
 * than meshing it in a way nobody asked for. docs/inject.md lists them.
 */
public final class Annotations {

    /** The opt-in, as an annotation; the same key as a label is what the webhooks select on ({@link MetadataKeys#INJECT}). */
    public static final String INJECT = MetadataKeys.INJECT;
    public static final String OPAQUE_PORTS = Workloads.OPAQUE_PORTS;
    public static final String SKIP_INBOUND_PORTS = "config.trellis.dev/skip-inbound-ports";
    public static final String SKIP_OUTBOUND_PORTS = "config.trellis.dev/skip-outbound-ports";
    public static final String SKIP_OUTBOUND_SUBNETS = "config.trellis.dev/skip-outbound-subnets";
    public static final String PROXY_CPU_REQUEST = "config.trellis.dev/proxy-cpu-request";
    public static final String PROXY_CPU_LIMIT = "config.trellis.dev/proxy-cpu-limit";
    public static final String PROXY_MEMORY_REQUEST = "config.trellis.dev/proxy-memory-request";
    public static final String PROXY_MEMORY_LIMIT = "config.trellis.dev/proxy-memory-limit";
    public static final String PROXY_LOG_LEVEL = "config.trellis.dev/proxy-log-level";
    public static final String DEFAULT_INBOUND_POLICY = MetadataKeys.DEFAULT_INBOUND_POLICY;
    public static final String NATIVE_SIDECAR = "config.trellis.dev/proxy-native-sidecar";
    /** Written on injected pods: the proxy's version. */
    public static final String PROXY_VERSION = "trellis.dev/proxy-version";

    static final Set<String> LOG_LEVELS = Set.of("trace", "debug", "info", "warn", "error");

    private Annotations() {
    }

    /** A value that does not parse, named: the pod is refused with this message. */
    public static final class InvalidAnnotationException extends Exception {
        InvalidAnnotationException(String message) {
            super(message);
        }
    }

    /**
     * Everything the labels and annotations decide for one pod, with the configuration's
     * defaults filled in; {@code warnings} are what the admission answer tells the user
     * (kubectl prints them) about settings that do not do what they seem to.
     */
    record Settings(Optional<Boolean> inject, List<String> warnings, Optional<Set<Integer>> opaquePorts, Set<Integer> skipInboundPorts,
                    Set<Integer> skipOutboundPorts, List<Cidr> skipOutboundSubnets, String cpuRequest, Optional<String> cpuLimit, String memoryRequest,
                    String memoryLimit, String logLevel, Optional<String> defaultInboundPolicy, boolean nativeSidecar, ProxyMode proxyMode) {

        static Settings of(NamespaceMetadata namespace, Map<String, String> podLabels, Map<String, String> podAnnotations, InjectorConfig config)
                throws InvalidAnnotationException {
            Map<String, String> merged = new LinkedHashMap<>(namespace.annotations());
            merged.putAll(podAnnotations);
            InjectorConfig.ProxyDefaults defaults = config.defaults();
            List<String> warnings = new ArrayList<>();
            Optional<Boolean> inject = optIn("the pod", podLabels, podAnnotations, warnings);
            if (inject.isEmpty()) {
                inject = optIn("namespace " + namespace.name(), namespace.labels(), namespace.annotations(), warnings);
            }
            Optional<Set<Integer>> opaque = merged.containsKey(OPAQUE_PORTS) ? Optional.of(ports(merged, OPAQUE_PORTS)) : Optional.empty();
            String logLevel = merged.getOrDefault(PROXY_LOG_LEVEL, defaults.logLevel()).strip().toLowerCase(java.util.Locale.ROOT);
            if (!LOG_LEVELS.contains(logLevel)) {
                throw new InvalidAnnotationException(PROXY_LOG_LEVEL + ": '" + logLevel + "' is not one of " + new TreeSet<>(LOG_LEVELS));
            }
            Optional<String> inboundPolicy = Optional.ofNullable(merged.get(DEFAULT_INBOUND_POLICY)).map(String::strip).or(defaults::defaultInboundPolicy);
            if (inboundPolicy.isPresent()) {
                try {
                    // The rule of the destination service, which reads the annotation, and of the proxy, which gets it.
                    DefaultInboundPolicy.parse(inboundPolicy.get());
                } catch (IllegalArgumentException e) {
                    throw new InvalidAnnotationException(DEFAULT_INBOUND_POLICY + ": '" + inboundPolicy.get() + "' is not one of " + DefaultInboundPolicy.names());
                }
            }
            boolean nativeSidecar = config.nativeSidecar();
            if (merged.containsKey(NATIVE_SIDECAR)) {
                String value = merged.get(NATIVE_SIDECAR).strip();
                if (!value.equals("true") && !value.equals("false")) {
                    throw new InvalidAnnotationException(NATIVE_SIDECAR + ": '" + value + "' is not true or false");
                }
                nativeSidecar = nativeSidecar && value.equals("true");
            }
            ProxyMode proxyMode;
            try {
                proxyMode = ProxyMode.of(podAnnotations, namespace.annotations());
            } catch (IllegalArgumentException e) {
                throw new InvalidAnnotationException(MetadataKeys.PROXY_MODE + ": " + e.getMessage());
            }
            return new Settings(inject, List.copyOf(warnings), opaque, ports(merged, SKIP_INBOUND_PORTS), ports(merged, SKIP_OUTBOUND_PORTS), subnets(merged),
                    quantity(merged, PROXY_CPU_REQUEST, defaults.cpuRequest()), optionalQuantity(merged, PROXY_CPU_LIMIT, defaults.cpuLimit()),
                    quantity(merged, PROXY_MEMORY_REQUEST, defaults.memoryRequest()), quantity(merged, PROXY_MEMORY_LIMIT, defaults.memoryLimit()),
                    logLevel, inboundPolicy, nativeSidecar, proxyMode);
        }
    }

    /**
     * What one object ({@code who}: the pod or its namespace) says of injection: its
     * {@code trellis.dev/inject} label, else the annotation of the same name; empty when it
     * says nothing. The label is what the API server selects on, so where the two disagree the
     * label decides, and a warning says so. A value other than enabled or disabled refuses.
     */
    static Optional<Boolean> optIn(String who, Map<String, String> labels, Map<String, String> annotations, List<String> warnings)
            throws InvalidAnnotationException {
        Optional<Boolean> label = injectValue(who + "'s label", labels.get(INJECT));
        Optional<Boolean> annotation = injectValue(who + "'s annotation", annotations.get(INJECT));
        if (label.isPresent() && annotation.isPresent() && !label.equals(annotation)) {
            warnings.add(who + " is labelled " + INJECT + "=" + labels.get(INJECT).strip() + " but annotated " + INJECT + ": "
                    + annotations.get(INJECT).strip() + "; the label decides");
        }
        return label.or(() -> annotation);
    }

    private static Optional<Boolean> injectValue(String what, String value) throws InvalidAnnotationException {
        if (value == null) {
            return Optional.empty();
        }
        return switch (value.strip()) {
            case MetadataKeys.ENABLED -> Optional.of(Boolean.TRUE);
            case MetadataKeys.DISABLED -> Optional.of(Boolean.FALSE);
            default -> throw new InvalidAnnotationException(INJECT + ": '" + value + "' (" + what + ") is not " + MetadataKeys.ENABLED + " or "
                    + MetadataKeys.DISABLED);
        };
    }

    /** Ports written {@code 80,443} or with ranges {@code 8000-8100}; empty when the annotation is absent. */
    static Set<Integer> ports(Map<String, String> annotations, String name) throws InvalidAnnotationException {
        String text = annotations.get(name);
        Set<Integer> ports = new TreeSet<>();
        if (text == null || text.isBlank()) {
            return ports;
        }
        for (String part : text.split(",")) {
            String item = part.strip();
            if (item.isEmpty()) {
                continue;
            }
            try {
                int dash = item.indexOf('-');
                int from = Integer.parseInt(dash < 0 ? item : item.substring(0, dash).strip());
                int to = dash < 0 ? from : Integer.parseInt(item.substring(dash + 1).strip());
                if (from < 1 || to > 65535 || from > to || to - from > 65535) {
                    throw new NumberFormatException();
                }
                for (int port = from; port <= to; port++) {
                    ports.add(port);
                }
            } catch (NumberFormatException e) {
                throw new InvalidAnnotationException(name + ": '" + item + "' is not a port (1-65535) or a range such as 8000-8100");
            }
        }
        return ports;
    }

    private static List<Cidr> subnets(Map<String, String> annotations) throws InvalidAnnotationException {
        List<Cidr> subnets = new ArrayList<>();
        String text = annotations.get(SKIP_OUTBOUND_SUBNETS);
        if (text == null || text.isBlank()) {
            return subnets;
        }
        for (String part : text.split(",")) {
            String item = part.strip();
            if (!item.isEmpty()) {
                subnets.add(Cidr.parse(item).orElseThrow(() -> new InvalidAnnotationException(
                        SKIP_OUTBOUND_SUBNETS + ": '" + item + "' is not a CIDR such as 10.0.0.0/8")));
            }
        }
        return subnets;
    }

    private static String quantity(Map<String, String> annotations, String name, String fallback) throws InvalidAnnotationException {
        return optionalQuantity(annotations, name, Optional.of(fallback)).orElseThrow();
    }

    private static Optional<String> optionalQuantity(Map<String, String> annotations, String name, Optional<String> fallback)
            throws InvalidAnnotationException {
        String text = annotations.get(name);
        if (text == null) {
            return fallback;
        }
        try {
            Quantity.getAmountInBytes(new Quantity(text.strip()));
            return Optional.of(text.strip());
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new InvalidAnnotationException(name + ": '" + text + "' is not a Kubernetes quantity (e.g. 100m, 128Mi)");
        }
    }
}
