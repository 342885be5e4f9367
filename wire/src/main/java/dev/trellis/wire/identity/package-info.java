/** {@code trellis.identity.v1}'s messages as records: what a workload sends to get its certificate, and what it gets back. */
package dev.trellis.wire.identity;
