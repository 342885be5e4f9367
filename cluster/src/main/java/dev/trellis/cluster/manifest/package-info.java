/** Kubernetes manifests as text: parsing YAML or JSON streams with limits and line numbers, and writing them for {@code kubectl apply -f -}. */
package dev.trellis.cluster.manifest;
