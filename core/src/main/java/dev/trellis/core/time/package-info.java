/** Time values as people write them. */
package dev.trellis.core.time;
