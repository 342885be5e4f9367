/** The viz metrics API: scraping proxies over mTLS as the viz identity, a short in-memory window, golden metrics per workload. */
package dev.trellis.viz;
