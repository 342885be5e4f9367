/** gRPC over Netty's HTTP/2 for the proxy's control-plane calls: a client, message framing and status, without grpc-java. */
package dev.trellis.wire.grpc;
