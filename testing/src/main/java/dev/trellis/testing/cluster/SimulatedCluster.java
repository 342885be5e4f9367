package dev.trellis.testing.cluster;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatusBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.VersionInfo;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A cluster on this machine, for process-level tests (root only): fabric8's
 * kubernetes-server-mock in CRUD mode as the API server (pods reach it over HTTPS, with a
 * service-account token and CA as in-cluster configuration expects; TokenReview answers for
 * the tokens minted here), a Linux bridge as the pod network, and a kubelet that runs each
 * pod's containers as processes, exactly as the spec says ({@link RunningPod}). What the
 * cluster's controllers would do is done here, plainly: a Deployment becomes its pods, a
 * ready pod lands in the EndpointSlices of the Services that select it, a Deployment's status
 * counts its ready pods, and Service names resolve (in each pod's {@code /etc/hosts}) to the
 * pods behind them, or to the clusterIP a test gave the Service — which no kube-proxy serves,
 * so only meshed clients (whose proxies resolve it) reach it. Mutating admission webhooks
 * are called as the API server calls them ({@link MutatingAdmission}).
 * Not simulated: scheduling (every pod runs, whatever its affinity), resource limits, images
 * other than the Dockerfile's targets.
 */
public final class SimulatedCluster implements AutoCloseable {

    /** The node a pod runs on when it names none: the scheduler's choice where there is one node. */
    public static final String DEFAULT_NODE = "simulated-node";

    /** Bound, service-account token, minted for the pod's own API calls. */
    static final String API_AUDIENCE = "https://kubernetes.default.svc";

    private final Path work;
    private final ImageCatalog images;
    private final KubernetesMockServer server;
    private final KubernetesClient client;
    private final ApiServerFront front;
    private final ServiceAccountTokens tokens = new ServiceAccountTokens();
    private final String bridge;
    private final String subnet;
    private final List<RunningPod> pods = new CopyOnWriteArrayList<>();
    private int nextPod = 2;

    private SimulatedCluster(Path work, ImageCatalog images, KubernetesMockServer server, KubernetesClient client, ApiServerFront front,
                             String bridge, String subnet) {
        this.work = work;
        this.images = images;
        this.server = server;
        this.client = client;
        this.front = front;
        this.bridge = bridge;
        this.subnet = subnet;
    }

    /** True when this process can build one: root, with ip, setpriv and mount. */
    public static boolean available() {
        return "root".equals(System.getProperty("user.name"))
                && List.of("/usr/sbin/ip", "/usr/bin/setpriv", "/usr/bin/mount").stream().allMatch(p -> Files.isExecutable(Path.of(p)));
    }

    /** Starts the API server and the pod network; {@code work} holds volumes and logs. */
    public static SimulatedCluster start(Path work, ImageCatalog images) throws Exception {
        Map<ServerRequest, Queue<ServerResponse>> expectations = new HashMap<>();
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), expectations,
                new KubernetesMixedDispatcher(expectations), false);
        server.init(InetAddress.getLoopbackAddress(), 0);
        server.setVersionInfo(new VersionInfo.Builder().withMajor("1").withMinor("31").withGitVersion("v1.31.2-simulated").build());
        KubernetesClient client = server.createClient();
        int octet = ThreadLocalRandom.current().nextInt(100, 250);
        String subnet = "10.213." + octet;
        String bridge = "trlsbr" + octet;
        Shell.run("ip", "link", "add", bridge, "type", "bridge");
        Shell.run("ip", "addr", "add", subnet + ".1/24", "dev", bridge);
        Shell.run("ip", "link", "set", bridge, "up");
        ApiServerFront front;
        try {
            front = ApiServerFront.start(InetAddress.getByName(subnet + ".1"), new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getPort()));
        } catch (Exception e) {
            Shell.run("ip", "link", "del", bridge);
            throw e;
        }
        SimulatedCluster cluster = new SimulatedCluster(work, images, server, client, front, bridge, subnet);
        KubernetesSerialization serialization = new KubernetesSerialization();
        server.expect().post().withPath("/apis/authentication.k8s.io/v1/tokenreviews")
                .andReply(201, request -> serialization.asJson(cluster.tokens.answer(serialization.unmarshal(request.getBody().readUtf8(), TokenReview.class))))
                .always();
        return cluster;
    }

    /** An administrator's client, straight to the API server. */
    public KubernetesClient client() {
        return client;
    }

    /** The host's address on the pod network (pods reach the host, and the API server, there). */
    public InetAddress hostAddress() throws IOException {
        return InetAddress.getByName(subnet + ".1");
    }

    /** A token TokenReview will accept for {@code namespace/serviceAccount}, bound to {@code audience}. */
    public String mintToken(String namespace, String serviceAccount, String audience) {
        return tokens.mint(namespace, serviceAccount, audience);
    }

    /** A token TokenReview will accept for {@code namespace/serviceAccount}, bound to {@code audience} and to pod {@code pod}. */
    public String mintToken(String namespace, String serviceAccount, String audience, String pod) {
        return tokens.mint(namespace, serviceAccount, audience, Optional.of(pod));
    }

    /**
     * What the Deployment controller and the kubelet do with {@code deployment} (created in the
     * API if it is not there yet): its replicas as pods {@code <name>-<i>}, started.
     */
    public List<RunningPod> deploy(Deployment deployment) throws Exception {
        Deployment stored = client.resource(deployment).get() != null ? client.resource(deployment).get() : client.resource(deployment).create();
        List<RunningPod> started = new ArrayList<>();
        int replicas = stored.getSpec().getReplicas() == null ? 1 : stored.getSpec().getReplicas();
        for (int i = 0; i < replicas; i++) {
            Pod pod = new PodBuilder()
                    .withNewMetadata()
                        .withName(stored.getMetadata().getName() + "-" + i)
                        .withNamespace(stored.getMetadata().getNamespace())
                        .withLabels(stored.getSpec().getTemplate().getMetadata().getLabels())
                        .withAnnotations(stored.getSpec().getTemplate().getMetadata().getAnnotations())
                        .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("apps/v1").withKind("Deployment")
                                .withName(stored.getMetadata().getName()).withUid(stored.getMetadata().getUid()).withController(true).build())
                    .endMetadata()
                    .withSpec(stored.getSpec().getTemplate().getSpec())
                    .build();
            started.add(run(pod));
        }
        return started;
    }

    /**
     * What the API server and the kubelet do with {@code pod}: the mutating webhooks that select
     * it are called (a refusal throws, naming the webhook), it is stored, and its containers start.
     */
    public synchronized RunningPod run(Pod pod) throws Exception {
        Pod stored = client.resource(pod).get();
        List<String> warnings = List.of();
        if (stored == null) {
            Created created = create(pod);
            stored = created.pod();
            warnings = created.warnings();
        }
        if (stored.getSpec().getNodeName() == null) {
            // The scheduler's binding.
            stored.getSpec().setNodeName(DEFAULT_NODE);
            stored = client.resource(stored).update();
        }
        String address = subnet + "." + nextPod;
        String netns = "trlsp" + subnet.substring(subnet.lastIndexOf('.') + 1) + "-" + nextPod;
        String hostInterface = "tp" + subnet.substring(subnet.lastIndexOf('.') + 1) + "x" + nextPod;
        nextPod++;
        // The kubelet reports the sandbox's address before the containers start (node agents serve a pod by it).
        stored.setStatus(new io.fabric8.kubernetes.api.model.PodStatusBuilder().withPhase("Pending").withPodIP(address).build());
        stored = client.resource(stored).updateStatus();
        RunningPod running = RunningPod.start(this, stored, address, netns, hostInterface, work.resolve(stored.getMetadata().getNamespace() + "-" + stored.getMetadata().getName()),
                warnings);
        pods.add(running);
        return running;
    }

    /**
     * What the DaemonSet controller and the kubelets do with {@code daemonSet} (created in the
     * API if it is not there yet) on {@code nodes}: a pod {@code <name>-<node>} bound to each,
     * started; the DaemonSet's status counts them, and their readiness.
     */
    public List<RunningPod> runDaemonSet(io.fabric8.kubernetes.api.model.apps.DaemonSet daemonSet, List<String> nodes) throws Exception {
        io.fabric8.kubernetes.api.model.apps.DaemonSet stored = client.resource(daemonSet).get() != null ? client.resource(daemonSet).get()
                : client.resource(daemonSet).create();
        stored.setStatus(new io.fabric8.kubernetes.api.model.apps.DaemonSetStatusBuilder().withDesiredNumberScheduled(nodes.size())
                .withCurrentNumberScheduled(nodes.size()).withNumberReady(0).withNumberMisscheduled(0).build());
        client.resource(stored).updateStatus();
        List<RunningPod> started = new ArrayList<>();
        for (String node : nodes) {
            Pod pod = new PodBuilder()
                    .withNewMetadata()
                        .withName(stored.getMetadata().getName() + "-" + node)
                        .withNamespace(stored.getMetadata().getNamespace())
                        .withLabels(stored.getSpec().getTemplate().getMetadata().getLabels())
                        .withAnnotations(stored.getSpec().getTemplate().getMetadata().getAnnotations())
                        .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("apps/v1").withKind("DaemonSet")
                                .withName(stored.getMetadata().getName()).withUid(stored.getMetadata().getUid()).withController(true).build())
                    .endMetadata()
                    .withSpec(new io.fabric8.kubernetes.api.model.PodSpecBuilder(stored.getSpec().getTemplate().getSpec()).withNodeName(node).build())
                    .build();
            started.add(run(pod));
        }
        return started;
    }

    /**
     * Where {@code hostPath} is on simulated node {@code node}: every node is this machine, so
     * each node's host directories are its own directory under the cluster's work directory,
     * except the network namespaces ({@code /var/run/netns}), which all nodes' runtimes share
     * (one machine's, where every pod's namespace is).
     */
    Path nodePath(String node, String hostPath) throws IOException {
        Path path = Path.of(hostPath).normalize();
        if (path.equals(Path.of("/var/run/netns")) || path.equals(Path.of("/run/netns"))) {
            return Path.of("/run/netns");
        }
        return work.resolve("nodes").resolve(node).resolve(Path.of("/").relativize(path));
    }

    /** A pod as the API server stored it, and the warnings its admission gave (kubectl prints them). */
    public record Created(Pod pod, List<String> warnings) {}

    /**
     * What the API server alone does with {@code pod}, no kubelet: the mutating webhooks that
     * select it are called (a refusal throws {@link IllegalStateException} with the API
     * server's reason, naming the webhook) and it is stored. {@link #run} also starts it.
     */
    public Created create(Pod pod) throws IOException {
        MutatingAdmission.Admitted admitted = MutatingAdmission.admit(this, pod);
        return new Created(client.resource(admitted.pod()).create(), admitted.warnings());
    }

    /** A ready pod behind {@code service}, as kube-proxy would pick one. */
    Optional<RunningPod> readyPodSelectedBy(Service service) {
        Map<String, String> selector = service.getSpec().getSelector();
        if (selector == null || selector.isEmpty()) {
            return Optional.empty();
        }
        return pods.stream().filter(RunningPod::isReady).filter(p -> p.namespace().equals(service.getMetadata().getNamespace()))
                .filter(p -> p.labels().entrySet().containsAll(selector.entrySet())).findFirst();
    }

    ImageCatalog images() {
        return images;
    }

    String bridge() {
        return bridge;
    }

    String subnet() {
        return subnet;
    }

    String apiServerCaPem() {
        return front.caPem();
    }

    int apiServerPort() {
        return front.port();
    }

    /** Where pods reach the API server (their {@code KUBERNETES_SERVICE_HOST} and port), for tests that cut a pod off from it. */
    public InetSocketAddress apiServerAddress() throws IOException {
        return new InetSocketAddress(hostAddress(), front.port());
    }

    /**
     * The {@code /etc/hosts} lines a pod starting now gets: every Service's names, for the
     * first running pod it selects (as cluster DNS would answer).
     */
    List<String> serviceHosts(String clusterDomain) {
        List<String> lines = new ArrayList<>();
        for (Service service : client.services().inAnyNamespace().list().getItems()) {
            Map<String, String> selector = service.getSpec().getSelector();
            if (selector == null || selector.isEmpty()) {
                continue;
            }
            String name = service.getMetadata().getName() + "." + service.getMetadata().getNamespace();
            String clusterIp = service.getSpec().getClusterIP();
            if (clusterIp != null && !clusterIp.isBlank() && !"None".equals(clusterIp)) {
                // A virtual IP: only meshed clients reach it (their proxies resolve it); there is no kube-proxy here.
                lines.add(clusterIp + " " + name + ".svc." + clusterDomain + " " + name + ".svc " + name);
                continue;
            }
            Optional<RunningPod> target = pods.stream().filter(p -> p.namespace().equals(service.getMetadata().getNamespace()))
                    .filter(p -> p.labels().entrySet().containsAll(selector.entrySet())).findFirst();
            if (target.isPresent()) {
                lines.add(target.get().address() + " " + name + ".svc." + clusterDomain + " " + name + ".svc " + name);
            }
        }
        return lines;
    }

    /** A pod became ready: its status, the EndpointSlices of Services selecting it, its Deployment's status. */
    synchronized void ready(RunningPod pod) {
        Pod stored = client.pods().inNamespace(pod.namespace()).withName(pod.name()).get();
        if (stored == null) {
            return;
        }
        stored.setStatus(new io.fabric8.kubernetes.api.model.PodStatusBuilder().withPhase("Running").withPodIP(pod.address())
                .addNewCondition().withType("Ready").withStatus("True").endCondition()
                .withInitContainerStatuses(pod.sidecarNames().stream().map(c -> new io.fabric8.kubernetes.api.model.ContainerStatusBuilder()
                        .withName(c).withReady(true).withStarted(true).build()).toList())
                .withContainerStatuses(pod.regularContainerNames().stream().map(c -> new io.fabric8.kubernetes.api.model.ContainerStatusBuilder()
                        .withName(c).withReady(true).withStarted(true).build()).toList())
                .build());
        client.resource(stored).update();
        for (Service service : client.services().inNamespace(pod.namespace()).list().getItems()) {
            Map<String, String> selector = service.getSpec().getSelector();
            if (selector == null || selector.isEmpty() || !pod.labels().entrySet().containsAll(selector.entrySet())) {
                continue;
            }
            List<RunningPod> behind = pods.stream().filter(RunningPod::isReady)
                    .filter(p -> p.namespace().equals(pod.namespace()) && p.labels().entrySet().containsAll(selector.entrySet())).toList();
            var slice = new EndpointSliceBuilder()
                    .withNewMetadata().withName(service.getMetadata().getName() + "-simulated").withNamespace(pod.namespace())
                        .addToLabels("kubernetes.io/service-name", service.getMetadata().getName()).endMetadata()
                    .withAddressType("IPv4")
                    .withEndpoints(behind.stream().map(p -> new io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder()
                            .withAddresses(p.address()).withNewConditions().withReady(true).endConditions()
                            .withNewTargetRef().withKind("Pod").withName(p.name()).withNamespace(p.namespace()).endTargetRef().build()).toList())
                    .withPorts(service.getSpec().getPorts().stream().map(sp -> new io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder()
                            .withName(sp.getName()).withPort(pod.containerPort(sp.getTargetPort()).orElse(sp.getPort())).withProtocol("TCP").build()).toList())
                    .build();
            client.resource(slice).createOr(existing -> existing.update());
        }
        stored.getMetadata().getOwnerReferences().stream().filter(o -> "DaemonSet".equals(o.getKind())).findFirst().ifPresent(owner -> {
            var set = client.apps().daemonSets().inNamespace(pod.namespace()).withName(owner.getName()).get();
            if (set != null && set.getStatus() != null) {
                long readyPods = pods.stream().filter(RunningPod::isReady).filter(p -> p.namespace().equals(pod.namespace()))
                        .filter(p -> p.ownerName().equals(Optional.of(owner.getName()))).count();
                set.getStatus().setNumberReady((int) readyPods);
                client.resource(set).updateStatus();
            }
        });
        stored.getMetadata().getOwnerReferences().stream().filter(o -> "Deployment".equals(o.getKind())).findFirst().ifPresent(owner -> {
            Deployment deployment = client.apps().deployments().inNamespace(pod.namespace()).withName(owner.getName()).get();
            if (deployment != null) {
                long readyPods = pods.stream().filter(RunningPod::isReady).filter(p -> p.namespace().equals(pod.namespace()))
                        .filter(p -> p.ownerName().equals(Optional.of(owner.getName()))).count();
                deployment.setStatus(new DeploymentStatusBuilder().withReplicas((int) readyPods).withReadyReplicas((int) readyPods)
                        .withAvailableReplicas((int) readyPods).withObservedGeneration(deployment.getMetadata().getGeneration()).build());
                client.resource(deployment).update();
            }
        });
    }

    static String describe(HasMetadata object) {
        return object.getKind() + " " + object.getMetadata().getNamespace() + "/" + object.getMetadata().getName();
    }

    @Override
    public void close() throws Exception {
        for (RunningPod pod : pods) {
            pod.close();
        }
        front.close();
        client.close();
        server.destroy();
        Shell.run("ip", "link", "del", bridge);
    }

    /** Runs a host command as the cluster's machinery; fails naming the command. */
    static final class Shell {
        private Shell() {
        }

        static String run(String... command) throws IOException, InterruptedException {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (!process.waitFor(30, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IOException("simulated cluster: '" + String.join(" ", command) + "' failed: " + out.strip());
            }
            return out;
        }
    }
}
