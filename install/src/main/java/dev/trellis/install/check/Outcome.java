package dev.trellis.install.check;

/** How one check came out, with the mark {@code trellis check} prints for it (as {@code linkerd check}). */
public enum Outcome {
    OK("√", "success"),
    WARNING("‼", "warning"),
    ERROR("×", "error");

    private final String mark;
    private final String jsonName;

    Outcome(String mark, String jsonName) {
        this.mark = mark;
        this.jsonName = jsonName;
    }

    public String mark() {
        return mark;
    }

    String jsonName() {
        return jsonName;
    }
}
