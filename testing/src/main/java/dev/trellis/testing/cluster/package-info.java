/** A simulated Kubernetes cluster for process-level tests: a mock API server, a bridge as the pod network, and a kubelet that runs pod specs as processes. */
package dev.trellis.testing.cluster;
