package dev.trellis.install.check;

import dev.trellis.install.ControlPlaneNamespace;
import dev.trellis.tls.pki.EcKeys;
import dev.trellis.tls.pki.Pem;
import dev.trellis.tls.pki.TrustAnchors;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The mesh PKI as the cluster holds it: trust anchors that parse and are CAs, an issuer that
 * chains to them and owns its key, and — the most common cause of a mesh outage — every one
 * of them within its validity period: an error once expired or not yet valid, a warning from
 * {@code expiryWarning} before the end.
 */
final class IdentityChecks {

    static final String HINT = "docs/install.md#check-identity";
    private static final String TRUST_ANCHORS_CONFIG_MAP = ControlPlaneNamespace.TRUST_ANCHORS_CONFIG_MAP;
    private static final String TRUST_ANCHORS_KEY = ControlPlaneNamespace.TRUST_ANCHORS_KEY;
    private static final String ISSUER_SECRET = ControlPlaneNamespace.ISSUER_SECRET;

    private IdentityChecks() {
    }

    static CheckReport.Category run(KubernetesClient client, String namespace, Duration expiryWarning, Clock clock) {
        List<CheckResult> results = new ArrayList<>();
        check(client, namespace, expiryWarning, clock.instant(), results);
        return new CheckReport.Category("identity", results);
    }

    /** Adds each check's result to {@code results}, stopping where a later check would have nothing to look at. */
    private static void check(KubernetesClient client, String namespace, Duration expiryWarning, Instant now, List<CheckResult> results) {
        ConfigMap anchorsMap = client.configMaps().inNamespace(namespace).withName(TRUST_ANCHORS_CONFIG_MAP).get();
        String anchorsPem = anchorsMap == null || anchorsMap.getData() == null ? null : anchorsMap.getData().get(TRUST_ANCHORS_KEY);
        if (anchorsPem == null) {
            results.add(CheckResult.error("trust anchors are valid CA certificates",
                    "no " + TRUST_ANCHORS_KEY + " in ConfigMap " + namespace + "/" + TRUST_ANCHORS_CONFIG_MAP, HINT));
            return;
        }
        TrustAnchors anchors;
        try {
            anchors = TrustAnchors.of(Pem.parseCertificates(anchorsPem, "ConfigMap " + namespace + "/" + TRUST_ANCHORS_CONFIG_MAP));
        } catch (IOException | IllegalArgumentException e) {
            results.add(CheckResult.error("trust anchors are valid CA certificates", e.getMessage(), HINT));
            return;
        }
        results.add(CheckResult.ok("trust anchors are valid CA certificates"));
        results.add(validity("trust anchors are within their validity period", anchors.certificates(), now, expiryWarning));

        Secret issuerSecret = client.secrets().inNamespace(namespace).withName(ISSUER_SECRET).get();
        Optional<String> issuerPem = data(issuerSecret, "tls.crt");
        Optional<String> keyPem = data(issuerSecret, "tls.key");
        if (issuerPem.isEmpty() || keyPem.isEmpty()) {
            results.add(CheckResult.error("issuer certificate is issued by a trust anchor",
                    issuerSecret == null ? "no Secret " + namespace + "/" + ISSUER_SECRET + " (with an external issuer, cert-manager writes it)"
                            : "Secret " + namespace + "/" + ISSUER_SECRET + " lacks tls.crt or tls.key", HINT));
            return;
        }
        List<X509Certificate> issuerChain;
        try {
            issuerChain = Pem.parseCertificates(issuerPem.get(), "Secret " + namespace + "/" + ISSUER_SECRET + " tls.crt");
        } catch (IOException e) {
            results.add(CheckResult.error("issuer certificate is issued by a trust anchor", e.getMessage(), HINT));
            return;
        }
        try {
            // Validity is checked below on its own, so a chain that is only out of date still shows as issued by an anchor.
            anchors.verify(issuerChain, issuerChain.getFirst().getNotBefore().toInstant().plusSeconds(1));
            results.add(CheckResult.ok("issuer certificate is issued by a trust anchor"));
        } catch (CertificateException e) {
            results.add(CheckResult.error("issuer certificate is issued by a trust anchor", e.getMessage(), HINT));
        }
        results.add(validity("issuer certificate is within its validity period", issuerChain, now, expiryWarning));
        try {
            PrivateKey key = Pem.parsePrivateKey(keyPem.get(), "Secret " + namespace + "/" + ISSUER_SECRET + " tls.key");
            if (EcKeys.matches(key, issuerChain.getFirst().getPublicKey())) {
                results.add(CheckResult.ok("issuer key matches its certificate"));
            } else {
                results.add(CheckResult.error("issuer key matches its certificate", "tls.key is not the key of the certificate in tls.crt", HINT));
            }
        } catch (IOException e) {
            results.add(CheckResult.error("issuer key matches its certificate", e.getMessage(), HINT));
        }
    }

    /**
     * Every certificate valid at {@code now}: an error naming the first that is expired or not
     * yet valid, else a warning naming those that expire within {@code warning}.
     */
    static CheckResult validity(String description, List<X509Certificate> certificates, Instant now, Duration warning) {
        return validity(description, certificates, now, warning, HINT);
    }

    static CheckResult validity(String description, List<X509Certificate> certificates, Instant now, Duration warning, String hint) {
        List<String> soon = new ArrayList<>();
        for (X509Certificate certificate : certificates) {
            Instant notBefore = certificate.getNotBefore().toInstant();
            Instant notAfter = certificate.getNotAfter().toInstant();
            String name = TrustAnchors.describe(certificate);
            if (now.isBefore(notBefore)) {
                return CheckResult.error(description, name + " is not valid before " + notBefore + " (now " + now + ")", hint);
            }
            if (!now.isBefore(notAfter)) {
                return CheckResult.error(description, name + " expired at " + notAfter + " (now " + now + ")", hint);
            }
            Duration left = Duration.between(now, notAfter);
            if (left.compareTo(warning) < 0) {
                soon.add(name + " expires at " + notAfter + ", in " + describe(left));
            }
        }
        return soon.isEmpty() ? CheckResult.ok(description)
                : CheckResult.warning(description + " for at least " + warning.toDays() + " days", String.join("\n", soon), hint);
    }

    private static String describe(Duration left) {
        if (left.toDays() >= 2) {
            return left.toDays() + " days";
        }
        return left.toHours() + " hours";
    }

    /** A Secret value, whether written as {@code stringData} (the API server converts it) or base64 {@code data}. */
    static Optional<String> data(Secret secret, String key) {
        if (secret == null) {
            return Optional.empty();
        }
        Map<String, String> data = secret.getData();
        if (data != null && data.get(key) != null) {
            return Optional.of(new String(Base64.getDecoder().decode(data.get(key)), StandardCharsets.UTF_8));
        }
        Map<String, String> stringData = secret.getStringData();
        return stringData == null ? Optional.empty() : Optional.ofNullable(stringData.get(key));
    }
}
