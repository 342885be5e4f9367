/** Token buckets and per-key rate limiters: the identity service (finding 1), the destination service (finding 2) and the proxy use them. */
package dev.trellis.ratelimit;
