package dev.trellis.e2e;

import dev.trellis.install.ControlPlane;
import dev.trellis.install.IdentityFiles;
import dev.trellis.install.InstallOptions;
import dev.trellis.testing.cluster.ImageCatalog;
import dev.trellis.testing.cluster.RunningPod;
import dev.trellis.testing.cluster.SimulatedCluster;
import dev.trellis.tls.pki.CaCertificates;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.Pem;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * The simulated cluster's sample app (App.java: {@code serve} answers "hello from POD to
 * CALLER-IDENTITY", {@code call URL N} calls) and the installed control plane, for the e2e
 * tests that run meshed pods.
 */
final class SampleApp {

    static final Path APP_DIR = Path.of("src/test/resources/app").toAbsolutePath();

    private SampleApp() {
    }

    /** The app: App.java by the JDK's source launcher, from the test resources. */
    static ImageCatalog.Image image() {
        List<String> entrypoint = new ArrayList<>(command());
        entrypoint.set(entrypoint.size() - 1, "/app/App.java");
        return new ImageCatalog.Image("app", entrypoint, List.of("serve"), Map.of(), Optional.empty(), Map.of("/app", APP_DIR));
    }

    /** The JDK's source launcher on App.java, with the distribution's gRPC on the class path. */
    static List<String> command() {
        return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1", "-Xmx64m",
                "-cp", Distribution.ROOT.resolve("cli/target/lib") + "/*", APP_DIR.resolve("App.java").toString());
    }

    /** The app's {@code call URL 1}, run in {@code pod}'s network namespace as root: its output, whether the call succeeded or not. */
    static String call(RunningPod pod, String url) throws Exception {
        return run(pod, "call", url, "1");
    }

    /** The app with {@code args}, run in {@code pod}'s network namespace as root: its output, whether it succeeded or not. */
    static String run(RunningPod pod, String... args) throws Exception {
        List<String> command = new ArrayList<>(command());
        command.addAll(List.of(args));
        try {
            return pod.exec(command.toArray(String[]::new));
        } catch (java.io.IOException failed) {
            return failed.getMessage();
        }
    }

    static Deployment deployment(String namespace, String name, Map<String, String> annotations) {
        return new DeploymentBuilder().withNewMetadata().withName(name).withNamespace(namespace).endMetadata()
                .withNewSpec().withReplicas(1).withNewSelector().addToMatchLabels("app", name).endSelector()
                    .withNewTemplate().withNewMetadata().addToLabels("app", name).withAnnotations(annotations).endMetadata()
                        .withSpec(spec(name, "serve")).endTemplate()
                .endSpec().build();
    }

    static PodSpec spec(String serviceAccount, String... args) {
        return new io.fabric8.kubernetes.api.model.PodSpecBuilder().withServiceAccountName(serviceAccount)
                .addNewContainer().withName("app").withImage("test/app:1").withArgs(args)
                    .addNewEnv().withName("PORT").withValue("8080").endEnv()
                    .addNewEnv().withName("GRPC_PORT").withValue("8090").endEnv()
                    .addNewPort().withName("http").withContainerPort(8080).withProtocol("TCP").endPort()
                    .addNewPort().withName("grpc").withContainerPort(8090).withProtocol("TCP").endPort()
                    .withNewReadinessProbe().withNewHttpGet().withPath("/ready").withPort(new IntOrString("http")).endHttpGet().withPeriodSeconds(1).endReadinessProbe()
                .endContainer()
                .build();
    }

    /** An app init container that calls {@code url} once and fails unless it answers 200. */
    static Container initCall(String name, String url) {
        return new io.fabric8.kubernetes.api.model.ContainerBuilder().withName(name).withImage("test/app:1").withArgs("call", url, "1").build();
    }

    /** Install options with a fresh PKI in {@code dir} (kept for a second call) and the injector; {@code more} adds to them. */
    static InstallOptions installOptions(Path dir, UnaryOperator<InstallOptions.Builder> more) throws Exception {
        Path pki = Files.createDirectories(dir.resolve("pki"));
        if (!Files.exists(pki.resolve("trust-anchor.pem"))) {
            CaCredentials anchor = CaCertificates.newTrustAnchor("cluster.local", CaCertificates.DEFAULT_ANCHOR_LIFETIME, Instant.now());
            CaCredentials issuer = CaCertificates.newIssuer(anchor, "cluster.local", CaCertificates.DEFAULT_ISSUER_LIFETIME, Instant.now());
            Files.writeString(pki.resolve("trust-anchor.pem"), Pem.encodeCertificates(List.of(anchor.certificate())));
            Files.writeString(pki.resolve("issuer.pem"), Pem.encodeCertificates(issuer.chain()));
            Files.writeString(pki.resolve("issuer-key.pem"), Pem.encodePrivateKey(issuer.key()));
        }
        return more.apply(InstallOptions.builder(IdentityFiles.read(pki.resolve("trust-anchor.pem"),
                        Optional.of(new IdentityFiles.IssuerFiles(pki.resolve("issuer.pem"), pki.resolve("issuer-key.pem"))), Instant.now()))
                .webhook(Optional.of(InstallOptions.WebhookTls.generate("trellis", "cluster.local", Instant.now())))).build();
    }

    /** What an installed control plane runs: the pods of each Deployment and DaemonSet, by name. */
    record Installed(Map<String, List<RunningPod>> pods) {
        RunningPod first(String name) {
            return pods.get(name).getFirst();
        }
    }

    /**
     * The rendered control plane but viz (not needed here), each component ready before the next
     * starts; DaemonSets (node mode) on {@code nodes}.
     */
    static Installed installControlPlane(SimulatedCluster cluster, InstallOptions options, List<String> nodes) throws Exception {
        KubernetesClient client = cluster.client();
        for (HasMetadata crd : ControlPlane.crds()) {
            client.resource(crd).create();
        }
        List<HasMetadata> workloads = new ArrayList<>();
        for (HasMetadata object : ControlPlane.objects(options, new SecureRandom())) {
            if (object instanceof Deployment || object instanceof DaemonSet) {
                workloads.add(object);
            } else {
                client.resource(object).create();
            }
        }
        Map<String, List<RunningPod>> pods = new java.util.LinkedHashMap<>();
        for (HasMetadata workload : workloads) {
            if (workload.getMetadata().getName().equals("trellis-viz")) {
                continue;
            }
            List<RunningPod> started = workload instanceof Deployment deployment ? cluster.deploy(deployment) : cluster.runDaemonSet((DaemonSet) workload, nodes);
            for (RunningPod pod : started) {
                pod.awaitReady(Duration.ofSeconds(90));
            }
            pods.put(workload.getMetadata().getName(), started);
        }
        return new Installed(pods);
    }
}
