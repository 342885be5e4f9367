/** What several modules must agree on about the sidecar: its ports, uid and environment variables. */
package dev.trellis.core.sidecar;
