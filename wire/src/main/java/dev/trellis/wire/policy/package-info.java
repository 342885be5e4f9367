/** {@code trellis.policy.v1}'s messages as the proxy reads them: inbound servers, egress policy, declared ports. */
package dev.trellis.wire.policy;
