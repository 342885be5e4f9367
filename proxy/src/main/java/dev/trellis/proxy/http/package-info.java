/**
 * What both directions' HTTP shares: the mesh headers, the proxy's own error answers, the
 * HTTP/2 server connection's bounds, draining, batched flushes, HTTP/1 ↔ HTTP/2 conversion,
 * the frame relay between two streams, the response-status recorder and the per-connection
 * request outcomes.
 */
package dev.trellis.proxy.http;
