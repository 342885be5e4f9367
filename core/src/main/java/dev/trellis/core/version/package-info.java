/** The Trellis release this build is, as every component and doc page reports it. */
package dev.trellis.core.version;
