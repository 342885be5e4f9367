/** The sidecar proxy: its configuration and the one place where its listeners are assembled. */
package dev.trellis.proxy;
