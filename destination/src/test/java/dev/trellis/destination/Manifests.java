package dev.trellis.destination;

/** Manifests for destination tests: Kubernetes-style YAML as a user would write it. */
final class Manifests {

    private Manifests() {
    }

    static String pod(String namespace, String name, String account, String ip, boolean ready) {
        return """
                apiVersion: v1
                kind: Pod
                metadata:
                  namespace: %s
                  name: %s
                  labels: {app: %s}
                  annotations: {config.trellis.dev/proxy-inbound-port: "4143"}
                  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: %s-rs, uid: u1, controller: true}]
                spec:
                  serviceAccountName: %s
                  containers: [{name: app, image: app, ports: [{name: http, containerPort: 8080}],
                               readinessProbe: {httpGet: {path: /ready, port: http}}}]
                status: {podIP: %s, phase: %s}
                ---
                """.formatted(namespace, name, account, account, account, ip, ready ? "Running" : "Pending");
    }

    static String service(String namespace, String name, String annotations) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {namespace: %s, name: %s, annotations: {%s}}
                spec:
                  clusterIP: 10.96.%d.%d
                  ports: [{name: http, port: 80, targetPort: 8080}]
                ---
                """.formatted(namespace, name, annotations, Math.abs(name.hashCode()) % 200, Math.abs(namespace.hashCode()) % 200 + 1);
    }

    /** An EndpointSlice of {@code service} listing pods {@code name-i} at {@code 10.0.<third>.<i+1>}, ready or not. */
    static String slice(String namespace, String service, int third, boolean... ready) {
        StringBuilder endpoints = new StringBuilder();
        for (int i = 0; i < ready.length; i++) {
            endpoints.append("  - addresses: [10.0.").append(third).append('.').append(i + 1).append("]\n")
                    .append("    conditions: {ready: ").append(ready[i]).append("}\n")
                    .append("    targetRef: {kind: Pod, namespace: ").append(namespace).append(", name: ").append(service).append('-').append(i).append("}\n");
        }
        return """
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  namespace: %s
                  name: %s-slice
                  labels: {kubernetes.io/service-name: %s}
                addressType: IPv4
                ports: [{name: http, port: 8080}]
                endpoints:
                %s---
                """.formatted(namespace, service, service, endpoints);
    }

    /** A Service named {@code name} with {@code count} ready pods running as service account {@code account}. */
    static String app(String namespace, String name, String account, int third, int count, String annotations) {
        StringBuilder out = new StringBuilder(service(namespace, name, annotations));
        boolean[] ready = new boolean[count];
        for (int i = 0; i < count; i++) {
            ready[i] = true;
            out.append(pod(namespace, name + "-" + i, account, "10.0." + third + "." + (i + 1), true));
        }
        return out.append(slice(namespace, name, third, ready)).toString();
    }
}
