/** The node agent: the privileged half of node mode, which finds opted-in pods on its node and makes their sockets inside their network namespaces. */
package dev.trellis.node.agent;
