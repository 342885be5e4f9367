/**
 * The mesh PKI: ECDSA P-256 keys, PEM files, the trust anchor and issuer, strict CSR
 * validation, leaf issuance and chain verification. Pure JCA + BouncyCastle's builders; no
 * security provider is installed globally.
 */
package dev.trellis.tls.pki;
