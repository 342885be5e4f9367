/**
 * The outbound side, assembled in {@link dev.trellis.proxy.outbound.OutboundSide}: the
 * listeners the app reaches (forwards, transparent), the HTTP/1 path (request deadline, retry
 * layer and budgets, one streamed exchange per request), the HTTP/2 path (per stream), the
 * opaque path, the mTLS connections to endpoints' proxies, and the connection log's HTTP lines.
 */
package dev.trellis.proxy.outbound;
