/** Every answer the proxy gives itself, as one typed value: its HTTP and gRPC status, its header text, its metric label. */
package dev.trellis.proxy.errors;
