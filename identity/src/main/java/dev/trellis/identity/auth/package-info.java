/**
 * Caller authentication for the identity service: one {@link dev.trellis.identity.auth.Authenticator}
 * interface, with local signed tokens and Kubernetes TokenReview as its implementations.
 */
package dev.trellis.identity.auth;
