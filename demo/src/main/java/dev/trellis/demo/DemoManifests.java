package dev.trellis.demo;

import java.util.List;

/** The Kubernetes-style YAML the demo writes for its cluster state: what a user edits while it runs. */
final class DemoManifests {

    static final String NAMESPACE = "emojivoto";

    /** One pod of the sample app: its deployment, service account, app port and proxy inbound port. */
    record PodSpec(String deployment, String pod, String serviceAccount, String portName, int appPort, int proxyInboundPort, int proxyTapPort) {
        /** The version label: emoji's second replica plays the canary ({@code v2}) of the walk-through in docs/routes.md. */
        String version() {
            return pod.equals("emoji-1") ? "v2" : "v1";
        }
    }

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
        for (String version : List.of("v1", "v2")) {
            // One Service per version of emoji: the backends a route splits emoji-svc's calls between.
            out.append("""
                    ---
                    apiVersion: v1
                    kind: Service
                    metadata: {namespace: emojivoto, name: emoji-%s-svc}
                    spec:
                      selector: {app: emoji, version: %s}
                      ports: [{name: grpc, port: 8080}]
                    """.formatted(version, version));
        }
        for (PodSpec pod : pods) {
            out.append("""
                    ---
                    apiVersion: v1
                    kind: Pod
                    metadata:
                      namespace: emojivoto
                      name: %s
                      labels: {app: %s, version: %s}
                      annotations: {config.trellis.dev/proxy-inbound-port: "%d", config.trellis.dev/proxy-tap-port: "%d"}
                      ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: %s-rs, uid: demo-%s, controller: true}]
                    spec:
                      serviceAccountName: %s
                      containers: [{name: app, image: trellis-demo/%s, ports: [{name: %s, containerPort: %d}]}]
                    status: {podIP: 127.0.0.1, phase: Running}
                    """.formatted(pod.pod(), pod.deployment(), pod.version(), pod.proxyInboundPort(), pod.proxyTapPort(), pod.deployment(), pod.deployment(),
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
            if (pod.deployment().equals("emoji")) {
                out.append("""
                        ---
                        apiVersion: discovery.k8s.io/v1
                        kind: EndpointSlice
                        metadata:
                          namespace: emojivoto
                          name: %s-%s
                          labels: {kubernetes.io/service-name: emoji-%s-svc}
                        addressType: IPv4
                        ports: [{name: grpc, port: %d}]
                        endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}, targetRef: {kind: Pod, namespace: emojivoto, name: %s}}]
                        """.formatted(pod.pod(), pod.version(), pod.version(), pod.appPort(), pod.pod()));
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

    /**
     * The canary of docs/routes.md: a Gateway API GRPCRoute on emoji-svc that sends web's calls
     * to emoji's v1 and v2 by weight. Edit the weights while the demo runs.
     */
    static String canary() {
        return """
                # A canary of emoji (docs/routes.md): 10 % of web's calls go to emoji's v2. Shift
                # them: change the weights below (50/50, then 0/100) and save; within a second the
                # split follows. See it with `trellis viz routes emoji-svc` (a row per backend).
                apiVersion: gateway.networking.k8s.io/v1
                kind: GRPCRoute
                metadata: {namespace: emojivoto, name: emoji-canary}
                spec:
                  parentRefs: [{group: "", kind: Service, name: emoji-svc, port: 8080}]
                  rules:
                    - backendRefs:
                        - {name: emoji-v1-svc, port: 8080, weight: 90}
                        - {name: emoji-v2-svc, port: 8080, weight: 10}
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
