/**
 * HTTP between proxies: HTTP/1.1 requests ride HTTP/2 streams on one multiplexed mTLS
 * connection per endpoint and reach the app as HTTP/1.1 again; HTTP/2 (gRPC) streams are
 * relayed frame by frame. Retries are bounded by a per-authority budget.
 */
package dev.trellis.proxy.http;
