/**
 * What both directions' HTTP shares: the mesh headers, the proxy's own error answers, the
 * HTTP/2 server codec and its bounds, draining, the frame relay between two streams, the
 * response-status recorder and the per-connection request outcomes.
 */
package dev.trellis.proxy.http;
