package dev.trellis.cli;

import dev.trellis.cluster.ClusterSource;
import dev.trellis.cluster.kubernetes.WatchedResource;
import dev.trellis.core.net.HostPort;
import dev.trellis.core.settings.ProxyMode;
import dev.trellis.core.sidecar.ProxyPorts;
import dev.trellis.node.agent.NamespaceDirectory;
import dev.trellis.node.agent.NodeAgent;
import dev.trellis.node.agent.OptedInPods;
import dev.trellis.node.host.NodeProxy;
import dev.trellis.proxy.ProxyConfig;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code trellis node}: the two halves of node mode, one pair per node (a DaemonSet). */
@Command(mixinStandardHelpOptions = true, name = "node", description = "Node mode: one proxy per node for the pods that opt in (config.trellis.dev/proxy-mode: node).",
        subcommands = {NodeCommand.Agent.class, NodeCommand.Proxy.class})
final class NodeCommand {

    /** {@code trellis node agent}: privileged; makes pods' sockets inside their network namespaces. */
    @Command(mixinStandardHelpOptions = true, name = "agent", description = {
            "Run the node agent: for every opted-in pod scheduled on --node it makes the pod's listening sockets inside the pod's",
            "network namespace and hands them to the node proxy over a Unix socket, and connects from inside the pod when the node",
            "proxy asks. Needs CAP_SYS_ADMIN (setns) and CAP_NET_ADMIN (SO_MARK), and the runtime's network namespaces mounted."})
    static final class Agent implements Callable<Integer> {

        @Mixin
        ClusterSourceOptions source;

        @Option(names = "--node", required = true, defaultValue = "${env:NODE_NAME}", description = "This node's name (spec.nodeName of the pods to serve); NODE_NAME.")
        String node;

        @Option(names = "--socket", defaultValue = ProxyMode.HANDOFF_SOCKET, paramLabel = "FILE", description = "Where to listen for the node proxy (default: ${DEFAULT-VALUE}).")
        Path socket;

        @Option(names = "--proxy-uid", defaultValue = "" + ProxyPorts.UID, description = "The node proxy's uid, the only one allowed to connect (default: ${DEFAULT-VALUE}).")
        int proxyUid;

        @Option(names = "--netns-dir", defaultValue = "/var/run/netns", paramLabel = "DIR",
                description = "Where the container runtime keeps pods' network namespaces (default: ${DEFAULT-VALUE}).")
        Path netnsDirectory;

        @Option(names = "--connect-timeout", defaultValue = "5s", description = "Longest wait for one connection made for a pod (default: ${DEFAULT-VALUE}).")
        Duration connectTimeout;

        @Option(names = "--max-opening-per-pod", defaultValue = "256", description = "Connections opening at once for one pod; more are refused (default: ${DEFAULT-VALUE}).")
        int maxOpeningPerPod;

        @Override
        public Integer call() throws Exception {
            ClusterSource cluster = source.open(EnumSet.of(WatchedResource.PODS, WatchedResource.NAMESPACES));
            NodeAgent.Settings settings = new NodeAgent.Settings(socket, proxyUid, ProxyMode.SOCKET_MARK, HostPort.parse(ProxyConfig.Defaults.INBOUND),
                    HostPort.parse(ProxyConfig.Defaults.OUTBOUND), HostPort.parse(ProxyConfig.Defaults.TAP), connectTimeout, maxOpeningPerPod, Duration.ofSeconds(2));
            NodeAgent agent = NodeAgent.start(settings, new OptedInPods(cluster, node), new NamespaceDirectory(netnsDirectory, NodeAgent.ownNamespace()));
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                agent.close();
                cluster.close();
                stopped.countDown();
            }, "trellis-agent-shutdown"));
            stopped.await();
            return 0;
        }
    }

    /** {@code trellis node proxy}: unprivileged; a proxy per pod the agent hands over. */
    @Command(mixinStandardHelpOptions = true, name = "proxy", sortOptions = false, description = {
            "Run the node proxy: a proxy per pod the node agent hands over, each with the pod's own identity (asked for with this",
            "process's token; the identity service grants only pods on this node), policy, metrics and tap. Takes every flag of",
            "'trellis proxy'; --identity is the node proxy's own (its trust domain is the pods'), --inbound, --outbound and --tap",
            "are where the agent binds inside each pod."})
    static final class Proxy implements Callable<Integer> {

        @Mixin
        ProxyCommand proxy;

        @Option(names = "--agent-socket", defaultValue = ProxyMode.HANDOFF_SOCKET, paramLabel = "FILE", description = "The node agent's socket (default: ${DEFAULT-VALUE}).")
        Path agentSocket;

        @Option(names = "--io-threads", defaultValue = "2", description = "Event-loop threads shared by every pod (default: ${DEFAULT-VALUE}).")
        int ioThreads;

        @Option(names = "--pod-reads-per-second", defaultValue = "2000",
                description = "Each pod's share of the loops while other pods are busy: reads a second, twice that at once (default: ${DEFAULT-VALUE}).")
        double podReadsPerSecond;

        @Override
        public Integer call() throws Exception {
            ProxyConfig template = proxy.config();
            NodeProxy node = NodeProxy.start(new NodeProxy.Settings(template, agentSocket, template.listeners().admin(), ioThreads, podReadsPerSecond),
                    Clock.systemUTC());
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                node.close();
                stopped.countDown();
            }, "trellis-node-proxy-shutdown"));
            stopped.await();
            return 0;
        }
    }
}
