/**
 * The inbound side: terminating mesh mTLS, learning the client's identity, authorizing, and
 * forwarding to the local app — HTTP/2 streams to an HTTP/1 app (pooled connections) or an
 * HTTP/2 one (h2c), and opaque connections.
 */
package dev.trellis.proxy.inbound;
