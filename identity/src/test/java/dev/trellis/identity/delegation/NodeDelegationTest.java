package dev.trellis.identity.delegation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.metadata.MetadataKeys;
import dev.trellis.core.settings.ProxyMode;
import dev.trellis.identity.auth.Caller;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class NodeDelegationTest {

    private static final WorkloadIdentity NODE_PROXY = new WorkloadIdentity("cluster.local", "trellis", ProxyMode.NODE_PROXY_SERVICE_ACCOUNT);
    private static final WorkloadIdentity WEB = new WorkloadIdentity("cluster.local", "shop", "web");
    private static final WorkloadIdentity DB = new WorkloadIdentity("cluster.local", "shop", "db");

    private final List<Pod> pods = new java.util.ArrayList<>(List.of(
            pod("trellis", "node-proxy-a", ProxyMode.NODE_PROXY_SERVICE_ACCOUNT, "node-a", Map.of()),
            pod("trellis", "node-proxy-b", ProxyMode.NODE_PROXY_SERVICE_ACCOUNT, "node-b", Map.of()),
            pod("shop", "web-0", "web", "node-a", Map.of(MetadataKeys.PROXY_MODE, "node")),
            pod("shop", "db-0", "db", "node-b", Map.of(MetadataKeys.PROXY_MODE, "node"))));
    private final NodeDelegation delegation = new NodeDelegation("trellis", new NodeDelegation.Pods() {
        @Override
        public Optional<Pod> pod(String namespace, String name) {
            return pods.stream().filter(p -> p.getMetadata().getNamespace().equals(namespace) && p.getMetadata().getName().equals(name)).findFirst();
        }

        @Override
        public List<Pod> onNode(String namespace, String node) {
            // More than asked: the delegation filters again.
            return pods;
        }
    });

    @Test
    void aNodeProxyGetsTheIdentityOfAPodOnItsOwnNode() {
        assertThat(delegation.refusal(new Caller(NODE_PROXY, Optional.of("node-proxy-a")), WEB)).isEmpty();
    }

    @Test
    void aNodeProxyCannotGetAnIdentityWhosePodsRunOnlyOnAnotherNode() {
        assertThat(delegation.refusal(new Caller(NODE_PROXY, Optional.of("node-proxy-a")), DB))
                .hasValueSatisfying(why -> assertThat(why).contains("node-a").contains("sa/db").contains("no pod of that account"));
        assertThat(delegation.refusal(new Caller(NODE_PROXY, Optional.of("node-proxy-b")), DB)).isEmpty();
    }

    @Test
    void onlyTheNodeProxyAccountBoundToItsOwnPodMayAsk() {
        assertThat(delegation.isNodeProxy(WEB)).isFalse();
        assertThat(delegation.refusal(new Caller(WEB, Optional.of("web-0")), DB)).hasValueSatisfying(why -> assertThat(why).contains("cannot request"));
        assertThat(delegation.refusal(new Caller(NODE_PROXY, Optional.empty()), WEB)).hasValueSatisfying(why -> assertThat(why).contains("bound to no pod"));
        assertThat(delegation.refusal(new Caller(NODE_PROXY, Optional.of("web-0")), WEB)).hasValueSatisfying(why -> assertThat(why).contains("does not exist"));
        // The same account in another namespace is not the node proxy.
        assertThat(delegation.isNodeProxy(new WorkloadIdentity("cluster.local", "shop", ProxyMode.NODE_PROXY_SERVICE_ACCOUNT))).isFalse();
    }

    @Test
    void podsNotInNodeModeOrOnTheirWayOutGiveNothing() {
        pods.add(pod("shop", "api-0", "api", "node-a", Map.of()));
        Pod leaving = pod("shop", "batch-0", "batch", "node-a", Map.of(MetadataKeys.PROXY_MODE, "node"));
        leaving.getMetadata().setDeletionTimestamp("2026-12-06T12:00:00Z");
        pods.add(leaving);
        Pod done = pod("shop", "job-0", "job", "node-a", Map.of(MetadataKeys.PROXY_MODE, "node"));
        done.getStatus().setPhase("Succeeded");
        pods.add(done);
        Caller a = new Caller(NODE_PROXY, Optional.of("node-proxy-a"));
        assertThat(delegation.refusal(a, new WorkloadIdentity("cluster.local", "shop", "api"))).isPresent();
        assertThat(delegation.refusal(a, new WorkloadIdentity("cluster.local", "shop", "batch"))).isPresent();
        assertThat(delegation.refusal(a, new WorkloadIdentity("cluster.local", "shop", "job"))).isPresent();
    }

    private static Pod pod(String namespace, String name, String serviceAccount, String node, Map<String, String> annotations) {
        return new PodBuilder().withNewMetadata().withNamespace(namespace).withName(name).withAnnotations(annotations).endMetadata()
                .withNewSpec().withServiceAccountName(serviceAccount).withNodeName(node)
                    // what the injector gives a node-mode pod
                    .addNewInitContainer().withName("trellis-init").endInitContainer().endSpec()
                .withNewStatus().withPhase("Running").withPodIP("10.0.0.1").endStatus().build();
    }
}
