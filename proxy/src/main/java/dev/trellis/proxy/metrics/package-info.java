/** The proxy's Prometheus metrics, with bounded label values. */
package dev.trellis.proxy.metrics;
