/** The connection log (threat-model finding 14): one JSON line per connection and one per refusal, each saying what happened and why. */
package dev.trellis.proxy.connlog;
