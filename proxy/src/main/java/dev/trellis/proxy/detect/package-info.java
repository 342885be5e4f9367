/** Protocol detection on the first bytes of a connection: HTTP/1, HTTP/2, TLS (with SNI), or opaque. */
package dev.trellis.proxy.detect;
