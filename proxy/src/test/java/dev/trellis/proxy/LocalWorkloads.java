package dev.trellis.proxy;

/** Cluster state for proxy tests in local mode: a Service and one pod behind it, its app and its proxy on loopback. */
final class LocalWorkloads {

    private LocalWorkloads() {
    }

    /**
     * A Service {@code service} of {@code namespace} on {@code servicePort} (port name {@code portName}) whose one pod
     * {@code pod}-0 (service account {@code pod}) serves on {@code appPort} behind its proxy's inbound {@code proxyPort}.
     */
    static String yaml(String namespace, String service, String pod, String portName, int servicePort, int appPort, int proxyPort) {
        return """
                ---
                apiVersion: v1
                kind: Service
                metadata: {namespace: %1$s, name: %2$s}
                spec: {ports: [{name: %4$s, port: %5$d}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {namespace: %1$s, name: %3$s-0, labels: {app: %3$s}, annotations: {config.trellis.dev/proxy-inbound-port: "%7$d"}}
                spec: {serviceAccountName: %3$s, containers: [{name: app, image: app, ports: [{name: %4$s, containerPort: %6$d}]}]}
                status: {podIP: 127.0.0.1}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {namespace: %1$s, name: %2$s-1, labels: {kubernetes.io/service-name: %2$s}}
                addressType: IPv4
                ports: [{name: %4$s, port: %6$d}]
                endpoints: [{addresses: [127.0.0.1], targetRef: {kind: Pod, namespace: %1$s, name: %3$s-0}}]
                """.formatted(namespace, service, pod, portName, servicePort, appPort, proxyPort);
    }
}
