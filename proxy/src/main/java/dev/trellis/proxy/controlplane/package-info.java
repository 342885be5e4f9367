/**
 * Control-plane streams: one server-streaming call kept open, reopened with backoff, its last
 * answer kept in force — the one mechanism behind discovery, route profiles and policy.
 */
package dev.trellis.proxy.controlplane;
