/** What every HTTP/2 client connection of the proxy shares: the gRPC client's to the control plane and the endpoint connections between proxies. */
package dev.trellis.wire.h2;
