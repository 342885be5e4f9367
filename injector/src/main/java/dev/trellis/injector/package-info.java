/** The pod mutation that adds proxy-init and the proxy, and the annotations that steer it: one implementation for the webhook and {@code trellis inject}. */
package dev.trellis.injector;
