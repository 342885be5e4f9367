/** {@code trellis demo}: the whole mesh in one JVM on loopback — control plane, sample app, proxies, traffic, metrics API. */
package dev.trellis.demo;
