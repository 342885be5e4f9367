/** Routes of a destination as the proxy runs them: matching a request, its backend by weight, its filters and timeouts. */
package dev.trellis.proxy.routes;
