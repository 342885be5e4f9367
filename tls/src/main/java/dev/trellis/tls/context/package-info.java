/**
 * Mesh TLS: the current credentials of a workload and the Netty {@code SslContext}s (TLS
 * 1.3, both sides authenticated, BoringSSL when available) that read them afresh for every
 * new connection, so a certificate rotation needs no new context and drops no connection.
 */
package dev.trellis.tls.context;
