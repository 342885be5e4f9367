/**
 * The issuer the identity service signs with: loaded from files (what cert-manager
 * writes), reloaded when they change, and the service's own serving certificate derived from it.
 */
package dev.trellis.identity.issuer;
