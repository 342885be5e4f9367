/** {@code trellis init} (proxy-init): the iptables rules that send a pod's TCP through its proxy, planned as text and applied idempotently. */
package dev.trellis.init;
