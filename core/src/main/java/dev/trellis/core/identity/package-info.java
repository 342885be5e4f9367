/** Workload identities: the SPIFFE ID and DNS-like name that every mesh certificate carries. */
package dev.trellis.core.identity;
