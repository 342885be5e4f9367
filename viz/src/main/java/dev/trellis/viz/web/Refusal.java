package dev.trellis.viz.web;

/**
 * Why the dashboard refused a request: the status it answers, a short reason for logs and
 * counts ({@code host_not_allowed}, {@code origin_mismatch} …) and a message naming what failed.
 */
record Refusal(int status, String reason, String message) {

    WebAnswer answer(WebRequest request) {
        return request.isApi() || !request.method().equals("GET") ? WebAnswer.error(status, message) : WebAnswer.text(status, message);
    }
}
