package dev.trellis.core.identity;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.text.UntrustedText;

/**
 * Which mesh identities an authorization admits, and the one comparison every component uses
 * to apply it. {@link #matches} always compares the whole identity — trust domain first, then
 * namespace and service account — so that {@code spiffe://evil.example/ns/shop/sa/front}
 * never passes for {@code spiffe://cluster.local/ns/shop/sa/front}, however the certificate
 * that carries it was signed (an outside review found a component comparing namespace and
 * service account only).
 *
 * <p>Written forms ({@link #parse}): an exact SPIFFE ID, {@code spiffe://<td>/ns/<ns>/sa/*}
 * (any service account of a namespace), {@code spiffe://<td>/*} (anyone in a trust domain),
 * and {@code *}, which means anyone in the <em>local</em> trust domain, never anyone at all.
 * Immutable.
 */
public sealed interface IdentityPattern {

    /** True when {@code identity} is one this pattern admits. */
    boolean matches(WorkloadIdentity identity);

    /** Exactly one identity. */
    static IdentityPattern exactly(WorkloadIdentity identity) {
        return new Exactly(identity);
    }

    /** Every identity of {@code trustDomain}. */
    static IdentityPattern anyIn(String trustDomain) {
        return new AnyInTrustDomain(trustDomain);
    }

    /** Every service account of {@code namespace} in {@code trustDomain}. */
    static IdentityPattern anyInNamespace(String trustDomain, String namespace) {
        return new AnyInNamespace(trustDomain, namespace);
    }

    /**
     * Parses a written pattern; {@code *} means every identity of {@code localTrustDomain}.
     *
     * @throws IllegalArgumentException naming what is wrong with {@code text}
     */
    static IdentityPattern parse(String text, String localTrustDomain) {
        requireNonNull(text, "text");
        requireNonNull(localTrustDomain, "localTrustDomain");
        String value = text.strip();
        if (value.equals("*")) {
            return anyIn(localTrustDomain);
        }
        if (value.startsWith("spiffe://") && value.endsWith("/*") && value.indexOf('/', "spiffe://".length()) == value.length() - 2) {
            String trustDomain = value.substring("spiffe://".length(), value.length() - 2);
            return anyIn(new WorkloadIdentity(trustDomain, "x", "x").trustDomain());
        }
        if (value.endsWith("/sa/*")) {
            WorkloadIdentity sample = WorkloadIdentity.parseSpiffeId(value.substring(0, value.length() - 1) + "x");
            return anyInNamespace(sample.trustDomain(), sample.namespace());
        }
        try {
            return exactly(WorkloadIdentity.parseSpiffeId(value));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("identity pattern '" + UntrustedText.printable(value, 80)
                    + "' is not *, spiffe://<td>/*, spiffe://<td>/ns/<ns>/sa/* or a SPIFFE ID: " + e.getMessage());
        }
    }

    /** One identity, compared whole. */
    record Exactly(WorkloadIdentity identity) implements IdentityPattern {
        public Exactly {
            requireNonNull(identity, "identity");
        }

        @Override
        public boolean matches(WorkloadIdentity candidate) {
            return identity.trustDomain().equals(candidate.trustDomain()) && identity.namespace().equals(candidate.namespace())
                    && identity.serviceAccount().equals(candidate.serviceAccount());
        }

        @Override
        public String toString() {
            return identity.spiffeId();
        }
    }

    /** Anyone in a trust domain. */
    record AnyInTrustDomain(String trustDomain) implements IdentityPattern {
        public AnyInTrustDomain {
            requireNonNull(trustDomain, "trustDomain");
        }

        @Override
        public boolean matches(WorkloadIdentity candidate) {
            return trustDomain.equals(candidate.trustDomain());
        }

        @Override
        public String toString() {
            return "spiffe://" + trustDomain + "/*";
        }
    }

    /** Any service account of one namespace of a trust domain. */
    record AnyInNamespace(String trustDomain, String namespace) implements IdentityPattern {
        public AnyInNamespace {
            requireNonNull(trustDomain, "trustDomain");
            requireNonNull(namespace, "namespace");
        }

        @Override
        public boolean matches(WorkloadIdentity candidate) {
            return trustDomain.equals(candidate.trustDomain()) && namespace.equals(candidate.namespace());
        }

        @Override
        public String toString() {
            return "spiffe://" + trustDomain + "/ns/" + namespace + "/sa/*";
        }
    }
}
