package dev.trellis.cluster;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Kubernetes label selector ({@code matchLabels} and {@code matchExpressions} with In,
 * NotIn, Exists, DoesNotExist). The empty selector matches everything.
 */
public record Selector(Map<String, String> matchLabels, List<Expression> matchExpressions) {

    public static final Selector ALL = new Selector(Map.of(), List.of());

    public Selector {
        matchLabels = Map.copyOf(matchLabels);
        matchExpressions = List.copyOf(matchExpressions);
    }

    public boolean matches(Map<String, String> labels) {
        Map<String, String> actual = labels == null ? Map.of() : labels;
        for (var required : matchLabels.entrySet()) {
            if (!required.getValue().equals(actual.get(required.getKey()))) {
                return false;
            }
        }
        return matchExpressions.stream().allMatch(expression -> expression.matches(actual));
    }

    /** One {@code matchExpressions} entry. */
    public record Expression(String key, Operator operator, Set<String> values) {
        public Expression {
            values = Set.copyOf(values);
        }

        boolean matches(Map<String, String> labels) {
            String value = labels.get(key);
            return switch (operator) {
                case IN -> value != null && values.contains(value);
                case NOT_IN -> value == null || !values.contains(value);
                case EXISTS -> value != null;
                case DOES_NOT_EXIST -> value == null;
            };
        }
    }

    public enum Operator {
        IN, NOT_IN, EXISTS, DOES_NOT_EXIST;

        /** @throws IllegalArgumentException for anything but the four Kubernetes operators */
        public static Operator parse(String text) {
            return switch (text) {
                case "In" -> IN;
                case "NotIn" -> NOT_IN;
                case "Exists" -> EXISTS;
                case "DoesNotExist" -> DOES_NOT_EXIST;
                default -> throw new IllegalArgumentException("operator '" + text + "' is not one of In, NotIn, Exists, DoesNotExist");
            };
        }
    }
}
