package dev.trellis.tls.pki;

import java.math.BigInteger;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;

/** A signed leaf and the chain above it (issuer first, without the trust anchor). */
public record IssuedLeaf(X509Certificate leaf, List<X509Certificate> intermediates) {

    public IssuedLeaf {
        intermediates = List.copyOf(intermediates);
    }

    public BigInteger serial() {
        return leaf.getSerialNumber();
    }

    public Instant notAfter() {
        return leaf.getNotAfter().toInstant();
    }

    /** Leaf first, then the intermediates. */
    public List<X509Certificate> chain() {
        return java.util.stream.Stream.concat(java.util.stream.Stream.of(leaf), intermediates.stream()).toList();
    }
}
