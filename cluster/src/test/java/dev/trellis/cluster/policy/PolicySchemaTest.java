package dev.trellis.cluster.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.cluster.manifest.ManifestParser;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The policy CRDs' schemas are strict: structural, naming every field, so that the API server
 * drops or (kubectl's strict field validation, its default) refuses a misspelled field instead
 * of storing it — an outside review stored all six typos it tried while {@code spec} preserved
 * unknown fields. The mock API server does not evaluate schemas, so this test walks each
 * object against its CRD's schema as the API server's field validation does; and the
 * destination service's parser (local mode) names the same fields.
 */
class PolicySchemaTest {

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    /** One of each kind, using every field docs/crds.md shows. */
    private static final String VALID = """
            apiVersion: policy.trellis.dev/v1alpha1
            kind: Server
            metadata: {namespace: emojivoto, name: voting-grpc}
            spec:
              podSelector: {matchLabels: {app: voting}, matchExpressions: [{key: tier, operator: In, values: [backend]}]}
              port: grpc
              protocol: grpc
            ---
            apiVersion: policy.trellis.dev/v1alpha1
            kind: Server
            metadata: {namespace: emojivoto, name: voting-metrics}
            spec: {podSelector: {matchLabels: {app: voting}}, port: 9100}
            ---
            apiVersion: policy.trellis.dev/v1alpha1
            kind: AuthorizationPolicy
            metadata: {namespace: emojivoto, name: voting-from-web}
            spec:
              targetRef: {kind: Server, name: voting-grpc}
              requiredAuthenticationRefs:
                - {kind: MeshTLSAuthentication, name: web}
                - {kind: NetworkAuthentication, name: cluster, namespace: trellis}
            ---
            apiVersion: policy.trellis.dev/v1alpha1
            kind: MeshTLSAuthentication
            metadata: {namespace: emojivoto, name: web}
            spec:
              identities: ["spiffe://cluster.local/ns/emojivoto/sa/web"]
              identityRefs: [{kind: ServiceAccount, name: web, namespace: emojivoto}]
            ---
            apiVersion: policy.trellis.dev/v1alpha1
            kind: NetworkAuthentication
            metadata: {namespace: trellis, name: cluster}
            spec:
              networks: [{cidr: 10.0.0.0/8, except: [10.9.0.0/16]}]
            ---
            apiVersion: policy.trellis.dev/v1alpha1
            kind: HTTPRoute
            metadata: {namespace: emojivoto, name: web-routes}
            spec:
              parentRefs: [{kind: Service, name: web-svc, port: 80}]
              rules:
                - name: list-emoji
                  matches: [{path: {type: PathPrefix, value: /api/list}, method: GET}]
                  timeout: 2s
                  retryable: true
            ---
            apiVersion: policy.trellis.dev/v1alpha1
            kind: EgressPolicy
            metadata: {namespace: emojivoto, name: web-egress}
            spec:
              podSelector: {matchLabels: {app: web}}
              mode: allow
              allow:
                - {host: "*.example.com", ports: [443]}
                - {cidr: 10.20.0.0/16}
              deny:
                - {cidr: 169.254.169.254/32}
            ---
            apiVersion: policy.trellis.dev/v1alpha1
            kind: RateLimitPolicy
            metadata: {namespace: emojivoto, name: voting-limit}
            spec:
              targetRef: {kind: Server, name: voting-grpc}
              totalRequestsPerSecond: 1000
              identityRequestsPerSecond: 50
              overrides: [{identities: ["spiffe://cluster.local/ns/emojivoto/sa/web"], requestsPerSecond: 200}]
            """;

    @Test
    void everySchemaIsStructuralAndKeepsNoUnknownField() {
        List<CustomResourceDefinition> crds = PolicyCrds.all();
        assertThat(crds).hasSize(PolicyResources.KINDS.size());
        for (CustomResourceDefinition crd : crds) {
            String json = SERIALIZATION.asJson(crd);
            assertThat(json).as(crd.getMetadata().getName()).doesNotContain("x-kubernetes-preserve-unknown-fields");
            Map<String, Object> schema = schema(crd);
            everyObjectNamesItsFields(schema, crd.getMetadata().getName());
        }
    }

    @Test
    void whatTheDocsShowIsAcceptedByTheSchemaAndTheParser() throws Exception {
        List<io.fabric8.kubernetes.api.model.HasMetadata> objects = new ManifestParser().parse("valid.yaml", VALID);
        assertThat(objects).hasSize(8);
        for (var object : objects) {
            assertThat(schemaErrors(object)).as(object.getKind() + " " + object.getMetadata().getName()).isEmpty();
        }
    }

    @Test
    void aMisspelledFieldIsNamedByTheSchemaAndByTheParser() {
        // Each: a valid object with one field misspelled, and the path the error must name.
        Map<String, String> typos = Map.of(
                "podSelecter", "spec.podSelecter",
                "protocal", "spec.protocal",
                "requiredAuthenticationRef", "spec.requiredAuthenticationRef",
                "identites", "spec.identites",
                "timout", "spec.rules[0].timout",
                "totalRequestPerSecond", "spec.totalRequestPerSecond",
                "matchLabel", "spec.podSelector.matchLabel",
                "port: [443]", "spec.allow[0].port");
        for (Map.Entry<String, String> typo : typos.entrySet()) {
            String broken = switch (typo.getKey()) {
                case "podSelecter" -> VALID.replaceFirst("podSelector: \\{matchLabels: \\{app: voting}, match", "podSelecter: {matchLabels: {app: voting}, match");
                case "protocal" -> VALID.replaceFirst("protocol: grpc", "protocal: grpc");
                case "requiredAuthenticationRef" -> VALID.replace("requiredAuthenticationRefs:", "requiredAuthenticationRef:");
                case "identites" -> VALID.replace("identities: [\"spiffe://cluster.local/ns/emojivoto/sa/web\"]\n", "identites: [\"spiffe://cluster.local/ns/emojivoto/sa/web\"]\n");
                case "timout" -> VALID.replace("timeout: 2s", "timout: 2s");
                case "totalRequestPerSecond" -> VALID.replace("totalRequestsPerSecond", "totalRequestPerSecond");
                case "matchLabel" -> VALID.replace("podSelector: {matchLabels: {app: web}}", "podSelector: {matchLabel: {app: web}}");
                default -> VALID.replace("ports: [443]", "port: [443]");
            };
            assertThat(broken).as(typo.getKey()).isNotEqualTo(VALID);
            // The API server's view: the object as stored, walked against its schema.
            List<String> errors = new ArrayList<>();
            for (String document : broken.split("\n---\n")) {
                GenericKubernetesResource object = SERIALIZATION.unmarshal(document, GenericKubernetesResource.class);
                errors.addAll(schemaErrors(object));
            }
            assertThat(errors).as(typo.getKey()).filteredOn(e -> e.contains("unknown field")).containsExactly(typo.getValue() + ": unknown field");
            // Local mode: the destination service refuses the file, naming file, line and field.
            assertThatThrownBy(() -> new ManifestParser().parse("policy.yaml", broken)).as(typo.getKey())
                    .isInstanceOf(ManifestParser.ManifestException.class)
                    .hasMessageStartingWith("policy.yaml:").hasMessageContaining(typo.getValue() + ": unknown field");
        }
    }

    /** Unknown fields and wrong types of {@code object} as its CRD's schema sees them, each as {@code path: problem}. */
    private static List<String> schemaErrors(io.fabric8.kubernetes.api.model.HasMetadata object) {
        CustomResourceDefinition crd = PolicyCrds.all().stream().filter(c -> c.getSpec().getNames().getKind().equals(object.getKind()))
                .findFirst().orElseThrow();
        Map<String, Object> tree = SERIALIZATION.convertValue(object, Map.class);
        tree.remove("apiVersion");
        tree.remove("kind");
        tree.remove("metadata");
        List<String> errors = new ArrayList<>();
        walk(schema(crd), tree, "", errors);
        return errors;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> schema(CustomResourceDefinition crd) {
        return SERIALIZATION.convertValue(crd.getSpec().getVersions().getFirst().getSchema().getOpenAPIV3Schema(), Map.class);
    }

    /** A structural schema's field validation: every key must be a property (or fit additionalProperties), every value its type. */
    @SuppressWarnings("unchecked")
    private static void walk(Map<String, Object> schema, Object value, String path, List<String> errors) {
        if (Boolean.TRUE.equals(schema.get("x-kubernetes-int-or-string"))) {
            if (!(value instanceof Number) && !(value instanceof String)) {
                errors.add(path + ": must be an integer or a string");
            }
            return;
        }
        switch (String.valueOf(schema.get("type"))) {
            case "object" -> {
                if (!(value instanceof Map<?, ?> map)) {
                    errors.add(path + ": must be an object");
                    return;
                }
                Map<String, Object> properties = (Map<String, Object>) schema.getOrDefault("properties", Map.of());
                for (Object required : (List<Object>) schema.getOrDefault("required", List.of())) {
                    if (!map.containsKey(required)) {
                        errors.add(child(path, (String) required) + ": required");
                    }
                }
                for (Map.Entry<?, ?> entry : map.entrySet()) {
                    String key = (String) entry.getKey();
                    Object nested = properties.get(key);
                    if (nested == null) {
                        nested = schema.get("additionalProperties");
                    }
                    if (nested instanceof Map<?, ?> nestedSchema) {
                        walk((Map<String, Object>) nestedSchema, entry.getValue(), child(path, key), errors);
                    } else {
                        errors.add(child(path, key) + ": unknown field");
                    }
                }
            }
            case "array" -> {
                if (!(value instanceof List<?> list)) {
                    errors.add(path + ": must be a list");
                    return;
                }
                for (int i = 0; i < list.size(); i++) {
                    walk((Map<String, Object>) schema.get("items"), list.get(i), path + "[" + i + "]", errors);
                }
            }
            case "string" -> {
                if (!(value instanceof String)) {
                    errors.add(path + ": must be a string");
                }
            }
            case "integer" -> {
                if (!(value instanceof Number)) {
                    errors.add(path + ": must be an integer");
                }
            }
            case "boolean" -> {
                if (!(value instanceof Boolean)) {
                    errors.add(path + ": must be true or false");
                }
            }
            default -> errors.add(path + ": the schema gives no type");
        }
    }

    @SuppressWarnings("unchecked")
    private static void everyObjectNamesItsFields(Map<String, Object> schema, String where) {
        if ("object".equals(schema.get("type"))) {
            assertThat(schema.containsKey("properties") || schema.containsKey("additionalProperties")).as(where + " names its fields").isTrue();
            ((Map<String, Object>) schema.getOrDefault("properties", Map.of())).forEach((key, nested) ->
                    everyObjectNamesItsFields((Map<String, Object>) nested, where + "." + key));
            if (schema.get("additionalProperties") instanceof Map<?, ?> values) {
                everyObjectNamesItsFields((Map<String, Object>) values, where + ".*");
            }
        } else if ("array".equals(schema.get("type"))) {
            everyObjectNamesItsFields((Map<String, Object>) schema.get("items"), where + "[]");
        } else {
            assertThat(schema.containsKey("type") || Boolean.TRUE.equals(schema.get("x-kubernetes-int-or-string"))).as(where + " has a type").isTrue();
        }
    }

    private static String child(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }
}
