/** The inbound side: terminating mesh mTLS, learning the client's identity, and forwarding to the local app. */
package dev.trellis.proxy.inbound;
