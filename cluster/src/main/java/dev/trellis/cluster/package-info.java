/** One view of cluster state, whatever its source: snapshots, the source interface, object keys and label selectors. */
package dev.trellis.cluster;
