/** Opaque TCP: joining two connections byte for byte, with backpressure and byte counts. */
package dev.trellis.proxy.tcp;
