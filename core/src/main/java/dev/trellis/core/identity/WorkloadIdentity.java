package dev.trellis.core.identity;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.text.UntrustedText;
import java.util.regex.Pattern;

/**
 * The identity of a workload: a service account in a namespace of a trust domain.
 *
 * <p>Its two spellings are the SPIFFE ID {@code spiffe://<td>/ns/<ns>/sa/<sa>}, carried as
 * the URI SAN of a mesh certificate, and the DNS-like name
 * {@code <sa>.<ns>.serviceaccount.identity.trellis.<td>}, carried as its DNS SAN.
 *
 * <p>Every component is validated when the identity is built: the trust domain is a
 * lower-case DNS name, the namespace a DNS-1123 label and the service account a DNS-1123
 * subdomain, as Kubernetes requires. Instances are immutable and safe to share.
 */
public record WorkloadIdentity(String trustDomain, String namespace, String serviceAccount) {

    /** The default trust domain, as in Kubernetes clusters. */
    public static final String DEFAULT_TRUST_DOMAIN = "cluster.local";

    private static final String SPIFFE_PREFIX = "spiffe://";
    private static final String DNS_INFIX = ".serviceaccount.identity.trellis.";
    private static final int MAX_SPIFFE_ID_LENGTH = 2048;
    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

    public WorkloadIdentity {
        requireNonNull(trustDomain, "trustDomain");
        requireNonNull(namespace, "namespace");
        requireNonNull(serviceAccount, "serviceAccount");
        checkTrustDomain(trustDomain);
        checkNamespace(namespace);
        requireDnsName("service account", serviceAccount, 253);
    }

    /** {@code trustDomain}, when an identity may have it (a DNS name of at most 255 characters); else {@link IllegalArgumentException}. */
    public static String checkTrustDomain(String trustDomain) {
        requireDnsName("trust domain", trustDomain, 255);
        return trustDomain;
    }

    /** {@code namespace}, when it is a Kubernetes namespace name (a DNS-1123 label); else {@link IllegalArgumentException}. */
    public static String checkNamespace(String namespace) {
        if (namespace == null || !DNS_LABEL.matcher(namespace).matches()) {
            throw new IllegalArgumentException("identity: namespace '" + (namespace == null ? null : printable(namespace))
                    + "' is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)");
        }
        return namespace;
    }

    /** Parses {@code spiffe://<td>/ns/<ns>/sa/<sa>}, refusing anything else. */
    public static WorkloadIdentity parseSpiffeId(String spiffeId) {
        requireNonNull(spiffeId, "spiffeId");
        if (spiffeId.length() > MAX_SPIFFE_ID_LENGTH) {
            throw new IllegalArgumentException("identity: SPIFFE ID longer than " + MAX_SPIFFE_ID_LENGTH + " characters");
        }
        if (!spiffeId.startsWith(SPIFFE_PREFIX)) {
            throw new IllegalArgumentException("identity: '" + printable(spiffeId) + "' is not a SPIFFE ID (spiffe://<trust-domain>/ns/<ns>/sa/<sa>)");
        }
        String rest = spiffeId.substring(SPIFFE_PREFIX.length());
        String[] parts = rest.split("/", -1);
        if (parts.length != 5 || !parts[1].equals("ns") || !parts[3].equals("sa")) {
            throw new IllegalArgumentException("identity: '" + printable(spiffeId) + "' is not of the form spiffe://<trust-domain>/ns/<ns>/sa/<sa>");
        }
        return new WorkloadIdentity(parts[0], parts[2], parts[4]);
    }

    /** Parses {@code <sa>.<ns>.serviceaccount.identity.trellis.<td>}. */
    public static WorkloadIdentity parseDnsName(String dnsName) {
        requireNonNull(dnsName, "dnsName");
        int infix = dnsName.indexOf(DNS_INFIX);
        if (infix < 0) {
            throw new IllegalArgumentException("identity: '" + printable(dnsName) + "' is not of the form <sa>.<ns>" + DNS_INFIX + "<trust-domain>");
        }
        String head = dnsName.substring(0, infix);
        int dot = head.lastIndexOf('.');
        if (dot <= 0) {
            throw new IllegalArgumentException("identity: '" + printable(dnsName) + "' names no namespace");
        }
        return new WorkloadIdentity(dnsName.substring(infix + DNS_INFIX.length()), head.substring(dot + 1), head.substring(0, dot));
    }

    /** The SPIFFE ID, {@code spiffe://<td>/ns/<ns>/sa/<sa>}. */
    public String spiffeId() {
        return SPIFFE_PREFIX + trustDomain + "/ns/" + namespace + "/sa/" + serviceAccount;
    }

    /** The DNS-like name, {@code <sa>.<ns>.serviceaccount.identity.trellis.<td>}. */
    public String dnsName() {
        return serviceAccount + "." + namespace + DNS_INFIX + trustDomain;
    }

    /** The Kubernetes user name of the service account, {@code system:serviceaccount:<ns>:<sa>}. */
    public String kubernetesUserName() {
        return "system:serviceaccount:" + namespace + ":" + serviceAccount;
    }

    /** {@code sa/<sa> in ns/<ns>}, short enough for error messages. */
    public String shortName() {
        return "ns/" + namespace + "/sa/" + serviceAccount;
    }

    @Override
    public String toString() {
        return spiffeId();
    }

    private static void requireDnsName(String what, String value, int maxLength) {
        if (value.isEmpty() || value.length() > maxLength) {
            throw new IllegalArgumentException("identity: " + what + " '" + printable(value) + "' must have 1 to " + maxLength + " characters");
        }
        for (String label : value.split("\\.", -1)) {
            if (!DNS_LABEL.matcher(label).matches()) {
                throw new IllegalArgumentException("identity: " + what + " '" + printable(value)
                        + "' is not a DNS name (dot-separated labels of lower-case letters, digits and '-')");
            }
        }
    }

    private static String printable(String value) {
        return UntrustedText.printable(value, 80);
    }
}
