/** The demo's sample application: emoji (gRPC, two replicas), voting (gRPC, fails a share of votes), web (HTTP, calls both) and a vote bot. */
package dev.trellis.demo.app;
