/** Policy in the proxy: inbound authorization and rate limits, egress decisions, and the watches that keep them current. */
package dev.trellis.proxy.policy;
