/**
 * Discovery: endpoint streams from the destination service, cached per authority, kept
 * serving their last known endpoints while the control plane is unreachable.
 */
package dev.trellis.proxy.discovery;
