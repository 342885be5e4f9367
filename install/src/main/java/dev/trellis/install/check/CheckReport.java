package dev.trellis.install.check;

import java.util.Comparator;
import java.util.List;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/** Every category's checks, as text ({@code √ ‼ ×} lines) or JSON; {@link #failed} when any check is an error. */
public record CheckReport(List<Category> categories) {

    /** A group of checks, e.g. {@code identity}. */
    public record Category(String name, List<CheckResult> results) {
        public Category {
            results = List.copyOf(results);
        }
    }

    public CheckReport {
        categories = List.copyOf(categories);
    }

    /** The worst outcome of any check. */
    public Outcome worst() {
        return categories.stream().flatMap(c -> c.results().stream()).map(CheckResult::outcome)
                .max(Comparator.naturalOrder()).orElse(Outcome.OK);
    }

    public boolean failed() {
        return worst() == Outcome.ERROR;
    }

    /** The checks that are errors, one line each (for {@code --wait}'s progress). */
    public List<String> errors() {
        return categories.stream().flatMap(c -> c.results().stream()).filter(r -> r.outcome() == Outcome.ERROR)
                .map(r -> r.description() + r.detail().map(d -> ": " + d).orElse("")).toList();
    }

    public String text() {
        StringBuilder out = new StringBuilder();
        for (Category category : categories) {
            out.append(category.name()).append('\n').append("-".repeat(category.name().length())).append('\n');
            for (CheckResult result : category.results()) {
                out.append(result.outcome().mark()).append(' ').append(result.description()).append('\n');
                result.detail().ifPresent(detail -> detail.lines().forEach(line -> out.append("    ").append(line).append('\n')));
                result.hint().ifPresent(hint -> out.append("    see ").append(hint).append(" for hints\n"));
            }
            out.append('\n');
        }
        out.append("Status check results are ").append(worst().mark()).append('\n');
        return out.toString();
    }

    /** As {@code linkerd check -o json}: {@code success}, then categories of checks with result success, warning or error. */
    public String json() {
        JsonMapper mapper = JsonMapper.builder().build();
        ObjectNode root = mapper.createObjectNode();
        root.put("success", !failed());
        ArrayNode categoryNodes = root.putArray("categories");
        for (Category category : categories) {
            ObjectNode categoryNode = categoryNodes.addObject();
            categoryNode.put("categoryName", category.name());
            ArrayNode checks = categoryNode.putArray("checks");
            for (CheckResult result : category.results()) {
                ObjectNode check = checks.addObject();
                check.put("description", result.description());
                check.put("result", result.outcome().jsonName());
                result.detail().ifPresent(d -> check.put("error", d));
                result.hint().ifPresent(h -> check.put("hint", h));
            }
        }
        return mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
    }
}
