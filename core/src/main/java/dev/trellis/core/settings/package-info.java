/**
 * Values a control plane is installed with and its components read back, each with the one
 * rule that {@code trellis install} and the component both apply: what install accepts, the
 * component runs with.
 */
package dev.trellis.core.settings;
