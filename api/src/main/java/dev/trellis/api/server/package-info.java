/** gRPC servers of the mesh, bounded the same way everywhere: resets, streams, metadata, keepalive, handshakes, idle connections. */
package dev.trellis.api.server;
