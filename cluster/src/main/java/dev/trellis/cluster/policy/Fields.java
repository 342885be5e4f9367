package dev.trellis.cluster.policy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Typed reads from a parsed YAML/JSON tree, each failure naming the field's path. Package-private helper of {@link PolicyParser}. */
final class Fields {

    /** Bounds on lists in a resource: a manifest is config, not data. */
    static final int MAX_ITEMS = 256;

    private final Map<?, ?> map;
    private final String path;

    Fields(Map<?, ?> map, String path) {
        this.map = map;
        this.path = path;
    }

    static Fields of(Object value, String path) throws InvalidResourceException {
        if (value instanceof Map<?, ?> m) {
            return new Fields(m, path);
        }
        throw new InvalidResourceException(path + ": must be an object");
    }

    /**
     * Refuses a key other than {@code known}, naming it and what is known: a misspelled field
     * ({@code spec.podSelecter}) must not be stored and silently ignored, in local mode as the
     * CRDs' schemas refuse it on a cluster. Returns this, to read on.
     */
    Fields only(String... known) throws InvalidResourceException {
        java.util.Set<String> allowed = java.util.Set.of(known);
        for (Object key : map.keySet()) {
            if (!(key instanceof String name)) {
                throw new InvalidResourceException(path + ": field names must be strings, not " + key);
            }
            if (!allowed.contains(name)) {
                throw new InvalidResourceException(at(name) + ": unknown field (" + (path.isEmpty() ? "known" : path + " has") + ": "
                        + String.join(", ", new java.util.TreeSet<>(allowed)) + ")");
            }
        }
        return this;
    }

    String at(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    boolean isNumber(String key) {
        return map.get(key) instanceof Number;
    }

    Optional<String> optString(String key) throws InvalidResourceException {
        Object value = map.get(key);
        if (value == null) {
            return Optional.empty();
        }
        if (value instanceof String s && !s.isBlank() && s.length() <= 1024) {
            return Optional.of(s.strip());
        }
        throw new InvalidResourceException(at(key) + ": must be a non-empty string of at most 1024 characters");
    }

    String string(String key) throws InvalidResourceException {
        return optString(key).orElseThrow(() -> new InvalidResourceException(at(key) + ": is required"));
    }

    Optional<Integer> optInt(String key, int min, int max) throws InvalidResourceException {
        Object value = map.get(key);
        if (value == null) {
            return Optional.empty();
        }
        if (value instanceof Number n && n.doubleValue() == n.longValue() && n.longValue() >= min && n.longValue() <= max) {
            return Optional.of(n.intValue());
        }
        throw new InvalidResourceException(at(key) + ": must be a whole number from " + min + " to " + max + ", not '" + value + "'");
    }

    boolean bool(String key, boolean otherwise) throws InvalidResourceException {
        Object value = map.get(key);
        if (value == null) {
            return otherwise;
        }
        if (value instanceof Boolean b) {
            return b;
        }
        throw new InvalidResourceException(at(key) + ": must be true or false");
    }

    Fields object(String key) throws InvalidResourceException {
        Object value = map.get(key);
        if (value == null) {
            throw new InvalidResourceException(at(key) + ": is required");
        }
        return of(value, at(key));
    }

    Optional<Fields> optObject(String key) throws InvalidResourceException {
        return map.get(key) == null ? Optional.empty() : Optional.of(object(key));
    }

    List<Fields> objects(String key) throws InvalidResourceException {
        List<Fields> out = new ArrayList<>();
        List<?> items = list(key);
        for (int i = 0; i < items.size(); i++) {
            out.add(of(items.get(i), at(key) + "[" + i + "]"));
        }
        return out;
    }

    List<String> strings(String key) throws InvalidResourceException {
        List<String> out = new ArrayList<>();
        List<?> items = list(key);
        for (int i = 0; i < items.size(); i++) {
            if (!(items.get(i) instanceof String s) || s.isBlank() || s.length() > 1024) {
                throw new InvalidResourceException(at(key) + "[" + i + "]: must be a non-empty string");
            }
            out.add(s.strip());
        }
        return out;
    }

    List<Integer> ints(String key, int min, int max) throws InvalidResourceException {
        List<Integer> out = new ArrayList<>();
        List<?> items = list(key);
        for (int i = 0; i < items.size(); i++) {
            if (!(items.get(i) instanceof Number n) || n.longValue() < min || n.longValue() > max) {
                throw new InvalidResourceException(at(key) + "[" + i + "]: must be a whole number from " + min + " to " + max);
            }
            out.add(n.intValue());
        }
        return out;
    }

    Map<String, String> stringMap(String key) throws InvalidResourceException {
        Object value = map.get(key);
        if (value == null) {
            return Map.of();
        }
        if (!(value instanceof Map<?, ?> m) || m.size() > MAX_ITEMS) {
            throw new InvalidResourceException(at(key) + ": must be a map of at most " + MAX_ITEMS + " strings");
        }
        Map<String, String> out = new java.util.LinkedHashMap<>();
        for (var entry : m.entrySet()) {
            if (!(entry.getKey() instanceof String k) || !(entry.getValue() instanceof String v)) {
                throw new InvalidResourceException(at(key) + ": keys and values must be strings");
            }
            out.put(k, v);
        }
        return out;
    }

    private List<?> list(String key) throws InvalidResourceException {
        Object value = map.get(key);
        if (value == null) {
            return List.of();
        }
        if (!(value instanceof List<?> items)) {
            throw new InvalidResourceException(at(key) + ": must be a list");
        }
        if (items.size() > MAX_ITEMS) {
            throw new InvalidResourceException(at(key) + ": has " + items.size() + " items; at most " + MAX_ITEMS);
        }
        return items;
    }
}
