/** How the node agent hands sockets made in pods' network namespaces to the node proxy: Linux calls through FFM and the messages between them. */
package dev.trellis.node.handoff;
