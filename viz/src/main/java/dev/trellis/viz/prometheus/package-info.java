/** A real Prometheus for viz: the bridge it scrapes proxies through (mTLS as the viz identity), its HTTP API, and the collector that reads the proxies' samples back. */
package dev.trellis.viz.prometheus;
