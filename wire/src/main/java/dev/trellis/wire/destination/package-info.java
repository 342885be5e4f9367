/** {@code trellis.destination.v1}'s messages as the proxy reads them: endpoint updates and route profiles. */
package dev.trellis.wire.destination;
