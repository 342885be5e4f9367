/**
 * The admin listener every Trellis component serves (loopback by default): {@code /live},
 * {@code /ready}, {@code /metrics}, and {@code /debug/*} only when started with
 * {@code --debug} (threat-model finding 5).
 */
package dev.trellis.admin;
