/** The destination service: gRPC over mTLS to proxies (discovery, profiles, inbound and egress policy), its limits and its subscriptions. */
package dev.trellis.destination;
