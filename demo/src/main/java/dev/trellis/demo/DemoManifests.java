package dev.trellis.demo;

import java.util.List;

/** The Kubernetes-style YAML the demo writes for its cluster state: what a user edits while it runs. */
final class DemoManifests {

    static final String NAMESPACE = "emojivoto";

    /** One pod of the sample app: its deployment, service account, app port and proxy inbound port. */
    record PodSpec(String deployment, String pod, String serviceAccount, String portName, int appPort, int proxyInboundPort, int proxyTapPort) {}

    private DemoManifests() {
    }

    static String app(List<PodSpec> pods) {
        StringBuilder out = new StringBuilder("""
                # The demo's cluster state (Trellis local mode). Every workload runs on 127.0.0.1;
                # each Pod names its proxy's inbound port. The destination service rereads this
                # directory when a file changes.
                apiVersion: v1
                kind: Namespace
                metadata: {name: emojivoto}
                """);
        pods.stream().map(PodSpec::serviceAccount).distinct().forEach(account -> out.append("""
                ---
                apiVersion: v1
                kind: ServiceAccount
                metadata: {namespace: emojivoto, name: %s}
                """.formatted(account)));
        for (String service : List.of("web", "emoji", "voting")) {
            PodSpec any = pods.stream().filter(p -> p.deployment().equals(service)).findFirst().orElseThrow();
            out.append("""
                    ---
                    apiVersion: v1
                    kind: Service
                    metadata: {namespace: emojivoto, name: %s-svc}
                    spec:
                      selector: {app: %s}
                      ports: [{name: %s, port: %d}]
                    """.formatted(service, service, any.portName(), service.equals("web") ? 80 : 8080));
        }
        for (PodSpec pod : pods) {
            out.append("""
                    ---
                    apiVersion: v1
                    kind: Pod
                    metadata:
                      namespace: emojivoto
                      name: %s
                      labels: {app: %s}
                      annotations: {config.trellis.dev/proxy-inbound-port: "%d", config.trellis.dev/proxy-tap-port: "%d"}
                      ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: %s-rs, uid: demo-%s, controller: true}]
                    spec:
                      serviceAccountName: %s
                      containers: [{name: app, image: trellis-demo/%s, ports: [{name: %s, containerPort: %d}]}]
                    status: {podIP: 127.0.0.1, phase: Running}
                    """.formatted(pod.pod(), pod.deployment(), pod.proxyInboundPort(), pod.proxyTapPort(), pod.deployment(), pod.deployment(),
                    pod.serviceAccount(), pod.deployment(), pod.portName(), pod.appPort()));
            if (!pod.deployment().equals("vote-bot")) {
                // One slice per pod: in local mode each pod's app has a port of its own.
                out.append("""
                        ---
                        apiVersion: discovery.k8s.io/v1
                        kind: EndpointSlice
                        metadata:
                          namespace: emojivoto
                          name: %s
                          labels: {kubernetes.io/service-name: %s-svc}
                        addressType: IPv4
                        ports: [{name: %s, port: %d}]
                        endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}, targetRef: {kind: Pod, namespace: emojivoto, name: %s}}]
                        """.formatted(pod.pod(), pod.deployment(), pod.portName(), pod.appPort(), pod.pod()));
            }
        }
        return out.toString();
    }

    /** Routes of web-svc: what `trellis viz routes web-svc` reports per route (anything else is [default]). */
    static String routes() {
        return """
                # Routes of web-svc: timeouts, retries and per-route metrics for web's callers.
                apiVersion: policy.trellis.dev/v1alpha1
                kind: HTTPRoute
                metadata: {namespace: emojivoto, name: web-routes}
                spec:
                  parentRefs: [{kind: Service, name: web-svc, port: 80}]
                  rules:
                    - name: vote
                      matches: [{path: {type: PathPrefix, value: /api/vote}, method: GET}]
                      timeout: 5s
                      retryable: true
                """;
    }

    static String policy() {
        return """
                # Who may call voting. Try it: change `name: web` under identityRefs to `name: nobody`
                # and save. Within seconds web's votes are denied (see `trellis viz stat` and the
                # voting proxy's inbound_http_authz_deny_total); change it back to restore them.
                apiVersion: policy.trellis.dev/v1alpha1
                kind: Server
                metadata: {namespace: emojivoto, name: voting-grpc}
                spec:
                  podSelector: {matchLabels: {app: voting}}
                  port: grpc
                  protocol: grpc
                ---
                apiVersion: policy.trellis.dev/v1alpha1
                kind: MeshTLSAuthentication
                metadata: {namespace: emojivoto, name: voting-clients}
                spec:
                  identityRefs:
                    - kind: ServiceAccount
                      name: web
                ---
                apiVersion: policy.trellis.dev/v1alpha1
                kind: AuthorizationPolicy
                metadata: {namespace: emojivoto, name: voting-from-web}
                spec:
                  targetRef: {kind: Server, name: voting-grpc}
                  requiredAuthenticationRefs: [{kind: MeshTLSAuthentication, name: voting-clients}]
                """;
    }
}
