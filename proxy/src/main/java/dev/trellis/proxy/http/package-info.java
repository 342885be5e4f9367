/**
 * HTTP between proxies: HTTP/1.1 requests from the app ride HTTP/2 streams on one
 * multiplexed mTLS connection per endpoint, and are handed to the app as HTTP/1.1 again.
 */
package dev.trellis.proxy.http;
