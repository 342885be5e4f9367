/**
 * The proxy's metric names and labels, the contract between the proxy that writes them and
 * viz that reads them.
 */
package dev.trellis.core.metrics;
