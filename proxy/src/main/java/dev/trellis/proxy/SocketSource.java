package dev.trellis.proxy;

import dev.trellis.proxy.transport.Sockets;

/**
 * Where a hosted proxy's data-plane sockets come from, for the module that hosts it: a node
 * proxy implements it with sockets the node agent makes inside the pod's network namespace.
 * Listeners are asked for by address ({@code listen}) and connections by remote address
 * ({@code connect}); control-plane connections never come from here. Thread-safe.
 */
public interface SocketSource extends Sockets {
}
