/**
 * The hop between two proxies: ALPN names of the mesh transports, the opaque-TCP transport
 * header, and the event loops every listener and connection runs on, with their deadline wheels.
 */
package dev.trellis.proxy.transport;
