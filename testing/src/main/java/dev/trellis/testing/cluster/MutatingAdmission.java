package dev.trellis.testing.cluster;

import io.fabric8.kubernetes.api.model.GroupVersionKindBuilder;
import io.fabric8.kubernetes.api.model.GroupVersionResourceBuilder;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionRequestBuilder;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponse;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReviewBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.RuleWithOperations;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.zjsonpatch.JsonPatch;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * What the API server does with a pod before storing it: every MutatingWebhookConfiguration
 * whose rules, namespaceSelector and objectSelector select the pod is called — over HTTPS at
 * its Service, verified against its caBundle for the name {@code <service>.<namespace>.svc},
 * within its timeout — with an AdmissionReview v1, and the JSONPatch it answers is applied.
 * A webhook that cannot be called, or denies, refuses the pod under {@code failurePolicy:
 * Fail}, as the API server would. The warnings webhooks answer with are collected, as kubectl
 * would print them.
 */
final class MutatingAdmission {

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** A pod the admission chain refused, with the API server's reason. */
    static final class Refused extends IllegalStateException {
        Refused(String message) {
            super(message);
        }
    }

    private MutatingAdmission() {
    }

    /** The pod as the webhooks left it, and the warnings they gave. */
    record Admitted(Pod pod, List<String> warnings) {}

    static Admitted admit(SimulatedCluster cluster, Pod pod) throws IOException {
        KubernetesClient client = cluster.client();
        Pod current = pod;
        List<String> warnings = new java.util.ArrayList<>();
        for (MutatingWebhookConfiguration configuration : client.admissionRegistration().v1().mutatingWebhookConfigurations().list().getItems()) {
            for (MutatingWebhook webhook : configuration.getWebhooks()) {
                if (!selects(webhook, current, namespaceLabels(client, current.getMetadata().getNamespace()))) {
                    continue;
                }
                try {
                    current = call(cluster, webhook, current, warnings);
                } catch (IOException | RuntimeException e) {
                    if ("Ignore".equals(webhook.getFailurePolicy())) {
                        continue;
                    }
                    throw e instanceof Refused refused ? refused
                            : new Refused("Internal error occurred: failed calling webhook \"" + webhook.getName() + "\": " + e.getMessage());
                }
            }
        }
        return new Admitted(current, List.copyOf(warnings));
    }

    private static Map<String, String> namespaceLabels(KubernetesClient client, String namespace) {
        Namespace found = client.namespaces().withName(namespace).get();
        Map<String, String> labels = new HashMap<>(found == null || found.getMetadata().getLabels() == null ? Map.of() : found.getMetadata().getLabels());
        labels.put("kubernetes.io/metadata.name", namespace);
        return labels;
    }

    private static boolean selects(MutatingWebhook webhook, Pod pod, Map<String, String> namespaceLabels) {
        boolean rule = webhook.getRules().stream().anyMatch(MutatingAdmission::matchesPodCreate);
        Map<String, String> podLabels = pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
        return rule && matches(webhook.getNamespaceSelector(), namespaceLabels) && matches(webhook.getObjectSelector(), podLabels);
    }

    private static boolean matchesPodCreate(RuleWithOperations rule) {
        return (rule.getApiGroups().contains("") || rule.getApiGroups().contains("*"))
                && (rule.getResources().contains("pods") || rule.getResources().contains("*"))
                && (rule.getOperations().contains("CREATE") || rule.getOperations().contains("*"));
    }

    /** A label selector as the API server evaluates it; none selects everything. */
    static boolean matches(LabelSelector selector, Map<String, String> labels) {
        if (selector == null) {
            return true;
        }
        if (selector.getMatchLabels() != null && !labels.entrySet().containsAll(selector.getMatchLabels().entrySet())) {
            return false;
        }
        for (LabelSelectorRequirement requirement : selector.getMatchExpressions() == null ? List.<LabelSelectorRequirement>of() : selector.getMatchExpressions()) {
            String value = labels.get(requirement.getKey());
            boolean ok = switch (requirement.getOperator()) {
                case "In" -> value != null && requirement.getValues().contains(value);
                case "NotIn" -> value == null || !requirement.getValues().contains(value);
                case "Exists" -> value != null;
                case "DoesNotExist" -> value == null;
                default -> throw new IllegalStateException("simulated API server: label selector operator " + requirement.getOperator());
            };
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    private static Pod call(SimulatedCluster cluster, MutatingWebhook webhook, Pod pod, List<String> warnings) throws IOException {
        var reference = webhook.getClientConfig().getService();
        if (reference == null) {
            throw new IllegalStateException("only webhooks that name a Service are simulated");
        }
        Service service = cluster.client().services().inNamespace(reference.getNamespace()).withName(reference.getName()).get();
        if (service == null) {
            throw new IOException("service \"" + reference.getName() + "\" not found");
        }
        int port = reference.getPort() == null ? 443 : reference.getPort();
        ServicePort servicePort = service.getSpec().getPorts().stream().filter(p -> p.getPort() == port).findFirst()
                .orElseThrow(() -> new IOException("service " + reference.getName() + " has no port " + port));
        RunningPod target = cluster.readyPodSelectedBy(service)
                .orElseThrow(() -> new IOException("no endpoints available for service \"" + reference.getName() + "\""));
        int targetPort = target.containerPort(servicePort.getTargetPort()).orElse(port);

        AdmissionReview review = new AdmissionReviewBuilder().withApiVersion("admission.k8s.io/v1").withKind("AdmissionReview")
                .withRequest(new AdmissionRequestBuilder().withUid(UUID.randomUUID().toString())
                        .withKind(new GroupVersionKindBuilder().withGroup("").withVersion("v1").withKind("Pod").build())
                        .withResource(new GroupVersionResourceBuilder().withGroup("").withVersion("v1").withResource("pods").build())
                        .withNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
                        .withOperation("CREATE").withDryRun(false).withObject(pod)
                        .withNewUserInfo().withUsername("system:serviceaccount:kube-system:replicaset-controller").endUserInfo()
                        .build())
                .build();
        byte[] body = SERIALIZATION.asJson(review).getBytes(StandardCharsets.UTF_8);
        String host = reference.getName() + "." + reference.getNamespace() + ".svc";
        int timeoutMillis = (webhook.getTimeoutSeconds() == null ? 10 : webhook.getTimeoutSeconds()) * 1000;
        byte[] answer = post(target.address(), targetPort, host, reference.getPath() == null ? "/" : reference.getPath(), body,
                caBundle(webhook.getClientConfig().getCaBundle()), timeoutMillis);
        AdmissionResponse response = SERIALIZATION.unmarshal(new String(answer, StandardCharsets.UTF_8), AdmissionReview.class).getResponse();
        if (response == null || !review.getRequest().getUid().equals(response.getUid())) {
            throw new IOException("the webhook answered for another request");
        }
        if (response.getWarnings() != null) {
            warnings.addAll(response.getWarnings());
        }
        if (!Boolean.TRUE.equals(response.getAllowed())) {
            throw new Refused("admission webhook \"" + webhook.getName() + "\" denied the request: "
                    + (response.getStatus() == null ? "" : response.getStatus().getMessage()));
        }
        if (response.getPatch() == null) {
            return pod;
        }
        if (!"JSONPatch".equals(response.getPatchType())) {
            throw new IOException("patchType " + response.getPatchType() + " is not JSONPatch");
        }
        JsonNode patch = JSON.readTree(Base64.getDecoder().decode(response.getPatch()));
        JsonNode patched = JsonPatch.apply(patch, JSON.readTree(SERIALIZATION.asJson(pod)));
        return SERIALIZATION.unmarshal(JSON.writeValueAsString(patched), Pod.class);
    }

    private static SSLContext caBundle(String base64) throws IOException {
        try {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            int i = 0;
            for (var certificate : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(Base64.getDecoder().decode(base64)))) {
                store.setCertificateEntry("ca" + i++, (X509Certificate) certificate);
            }
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(store);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust.getTrustManagers(), null);
            return context;
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException("caBundle: " + e.getMessage(), e);
        }
    }

    /** POST over TLS to {@code address:port}, verifying the certificate for {@code host}; the response body of a 200. */
    private static byte[] post(String address, int port, String host, String path, byte[] body, SSLContext trust, int timeoutMillis) throws IOException {
        try (Socket raw = new Socket()) {
            raw.connect(new InetSocketAddress(address, port), timeoutMillis);
            raw.setSoTimeout(timeoutMillis);
            try (SSLSocket tls = (SSLSocket) trust.getSocketFactory().createSocket(raw, host, port, true)) {
                SSLParameters parameters = tls.getSSLParameters();
                parameters.setEndpointIdentificationAlgorithm("HTTPS");
                tls.setSSLParameters(parameters);
                OutputStream out = tls.getOutputStream();
                out.write(("POST " + path + "?timeout=" + timeoutMillis / 1000 + "s HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\n"
                        + "Accept: application/json\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(body);
                out.flush();
                InputStream in = tls.getInputStream();
                ByteArrayOutputStream head = new ByteArrayOutputStream();
                while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
                    int b = in.read();
                    if (b < 0 || head.size() > 65_536) {
                        throw new IOException("no whole HTTP response head");
                    }
                    head.write(b);
                }
                String text = head.toString(StandardCharsets.ISO_8859_1);
                String status = text.substring(0, text.indexOf("\r\n"));
                int length = text.lines().filter(l -> l.toLowerCase(Locale.ROOT).startsWith("content-length:"))
                        .map(l -> Integer.parseInt(l.substring(l.indexOf(':') + 1).strip())).findFirst()
                        .orElseThrow(() -> new IOException("the webhook's answer has no Content-Length"));
                byte[] answer = in.readNBytes(length);
                if (!status.matches("HTTP/1\\.1 200.*")) {
                    throw new IOException("the webhook answered " + status + ": " + new String(answer, StandardCharsets.UTF_8).strip());
                }
                return answer;
            }
        }
    }
}
