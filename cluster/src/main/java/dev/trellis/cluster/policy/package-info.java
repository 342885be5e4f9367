/** Trellis's policy resources (group policy.trellis.dev, version v1alpha1): model records, their validation and parsing. */
package dev.trellis.cluster.policy;
