/** Protobuf's wire format, read and written by hand for the control plane's few messages: bounded, no runtime library. */
package dev.trellis.wire.protobuf;
