/**
 * The identity client: obtains a workload's certificate from the identity service, installs
 * it in a {@link dev.trellis.tls.context.CredentialsStore}, and renews it before it expires.
 */
package dev.trellis.tls.client;
