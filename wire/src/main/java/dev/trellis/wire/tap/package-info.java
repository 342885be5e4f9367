/** {@code trellis.tap.v1}'s messages as the proxy serves them: what a tap asks for, and the events it gets. */
package dev.trellis.wire.tap;
