/**
 * HTTP/2 connections whose streams are plain objects on the connection's event loop: one
 * handler per connection keeps its streams in the codec's own stream map, with no channel,
 * pipeline or frame object per stream (issue 21, item 2).
 */
package dev.trellis.proxy.h2;
