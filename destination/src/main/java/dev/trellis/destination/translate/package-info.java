/** Translators: pure functions from a cluster snapshot to what the destination API sends (endpoints, profiles, inbound and egress policy). */
package dev.trellis.destination.translate;
