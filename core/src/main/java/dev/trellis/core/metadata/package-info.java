/** Label and annotation keys that several modules read or write, each spelled once. */
package dev.trellis.core.metadata;
