/** The Kubernetes cluster-state source: fabric8 informers on the API server. */
package dev.trellis.cluster.kubernetes;
