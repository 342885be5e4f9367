package dev.trellis.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WorkloadsTest {

    private static Pod pod(String name, String ownerKind, String ownerName, Map<String, String> labels) {
        PodBuilder builder = new PodBuilder().withNewMetadata().withNamespace("shop").withName(name).withLabels(labels).endMetadata();
        if (ownerKind != null) {
            builder.editMetadata().withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("apps/v1").withKind(ownerKind).withName(ownerName)
                    .withUid("u").withController(true).build()).endMetadata();
        }
        return builder.build();
    }

    @Test
    void aPodBelongsToTheWorkloadItsControllerNames() {
        assertThat(Workloads.workload(pod("web-5d8f7c9b4-x2x1z", "ReplicaSet", "web-5d8f7c9b4", Map.of("pod-template-hash", "5d8f7c9b4"))))
                .isEqualTo(new Workloads.Workload("Deployment", "web"));
        assertThat(Workloads.workload(pod("my-web-app-abc-1", "ReplicaSet", "my-web-app-abc", Map.of())))
                .as("no hash label: the last segment goes").isEqualTo(new Workloads.Workload("Deployment", "my-web-app"));
        assertThat(Workloads.workload(pod("db-0", "StatefulSet", "db", Map.of()))).isEqualTo(new Workloads.Workload("StatefulSet", "db"));
        assertThat(Workloads.workload(pod("agent-x", "DaemonSet", "agent", Map.of()))).isEqualTo(new Workloads.Workload("DaemonSet", "agent"));
        assertThat(Workloads.workload(pod("backup-28123-q", "Job", "backup-28123", Map.of()))).isEqualTo(new Workloads.Workload("Job", "backup-28123"));
        assertThat(Workloads.workload(pod("sim-1", "Deployment", "sim", Map.of()))).isEqualTo(new Workloads.Workload("Deployment", "sim"));
        assertThat(Workloads.workload(pod("lonely", null, null, Map.of("app", "x")))).isEqualTo(new Workloads.Workload("Pod", "lonely"));
        assertThat(Workloads.workload(pod("odd", "Widget", "w", Map.of()))).isEqualTo(new Workloads.Workload("Pod", "odd"));
    }

    @Test
    void aNodeModePodIsMeshedOnlyWhenInjectedForIt() {
        Pod asked = new PodBuilder().withNewMetadata().withName("web-0").withNamespace("shop").addToAnnotations("config.trellis.dev/proxy-mode", "node").endMetadata()
                .withNewSpec().addNewContainer().withName("app").endContainer().endSpec().build();
        assertThat(Workloads.isMeshed(asked)).as("annotated, not injected").isFalse();
        Pod injected = new PodBuilder(asked).editSpec().addNewInitContainer().withName(Workloads.INIT_CONTAINER).endInitContainer().endSpec().build();
        assertThat(Workloads.isMeshed(injected)).isTrue();
        assertThat(Workloads.inNodeMode(injected)).isTrue();
        Pod sidecarAsked = new PodBuilder(injected).editMetadata().addToAnnotations("config.trellis.dev/proxy-mode", "sidecar").endMetadata().build();
        assertThat(Workloads.inNodeMode(sidecarAsked)).isFalse();
    }
}
