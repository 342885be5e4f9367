/** The outbound side: forward listeners, connecting to peer proxies over mTLS, and the connection log. */
package dev.trellis.proxy.outbound;
