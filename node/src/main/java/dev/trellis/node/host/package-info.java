/** The node proxy: one process hosting a proxy per opted-in pod of its node, each with the pod's own identity, policy, metrics and sockets. */
package dev.trellis.node.host;
