/** The local cluster-state source: a directory of Kubernetes-style YAML, reloaded when a file changes. */
package dev.trellis.cluster.local;
