/** {@code trellis check}: groups of checks of a cluster and the control plane in it, each with a clear outcome and a hint. */
package dev.trellis.install.check;
