package dev.trellis.cli;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.settings.DefaultInboundPolicy;
import dev.trellis.core.settings.NativeSidecarMode;
import dev.trellis.install.ControlPlane;
import dev.trellis.install.IdentityFiles;
import dev.trellis.install.InstallOptions;
import dev.trellis.cluster.manifest.ManifestStream;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code trellis install}: the control plane (or, with {@code --crds}, the policy CRDs) as one YAML stream. */
@Command(name = "install", description = {
        "Print the control plane as Kubernetes objects, one YAML stream for `kubectl apply -f -`.",
        "First `trellis install --crds | kubectl apply -f -`, then `trellis install | kubectl apply -f -`, then `trellis check`.",
        "The mesh PKI comes from `trellis identity bootstrap --out DIR` (--identity-dir DIR) or the --identity-* files."})
final class InstallCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    // No standard -V/--version here: --version is the image tag, as Linkerd's install has it.
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = "--crds", description = "Print only the seven policy.trellis.dev CRDs (apply them first).")
    boolean crds;

    @Mixin
    ControlPlaneOptions controlPlane;

    @Option(names = "--identity-dir", paramLabel = "DIR",
            description = "The output of `trellis identity bootstrap`: trust-anchor.pem, issuer.pem, issuer-key.pem.")
    Path identityDir;

    @Option(names = "--identity-trust-anchors-file", paramLabel = "FILE", description = "PEM trust anchor(s) (default: DIR/trust-anchor.pem).")
    Path trustAnchorsFile;

    @Option(names = "--identity-issuer-certificate-file", paramLabel = "FILE", description = "PEM issuer certificate, then any chain above it (default: DIR/issuer.pem).")
    Path issuerCertificateFile;

    @Option(names = "--identity-issuer-key-file", paramLabel = "FILE", description = "PEM issuer key (default: DIR/issuer-key.pem).")
    Path issuerKeyFile;

    @Option(names = "--identity-external-issuer",
            description = "Do not write the issuer Secret (trellis-identity-issuer, type kubernetes.io/tls): cert-manager does; the identity service reloads it.")
    boolean externalIssuer;

    @Option(names = "--identity-leaf-lifetime", defaultValue = "24h", description = "Lifetime of proxies' certificates (default: ${DEFAULT-VALUE}).")
    Duration leafLifetime;

    @Option(names = "--ha", description = "High availability: 3 replicas of identity, destination and the injector on different nodes, with PodDisruptionBudgets "
                    + "(the injector runs 2 replicas with one by default).")
    boolean ha;

    @Option(names = "--registry", defaultValue = InstallOptions.Builder.DEFAULT_REGISTRY, description = "Where the images are (default: ${DEFAULT-VALUE}).")
    String registry;

    @Option(names = "--version", paramLabel = "TAG", description = "Image tag (default: this CLI's version).")
    String version;

    @Option(names = "--image-pull-policy", defaultValue = "IfNotPresent", description = "Always, IfNotPresent or Never (default: ${DEFAULT-VALUE}).")
    String imagePullPolicy;

    @Option(names = "--controller-uid", defaultValue = "" + InstallOptions.Builder.DEFAULT_CONTROLLER_UID,
            description = "Non-zero uid and gid of the control-plane containers (default: ${DEFAULT-VALUE}).")
    long controllerUid;

    @Option(names = "--default-inbound-policy", defaultValue = "all-unauthenticated",
            description = "Destination service: policy of ports no Server covers (default: ${DEFAULT-VALUE}).")
    String defaultInboundPolicy;

    @Option(names = "--injector", defaultValue = "true", arity = "1", paramLabel = "true|false",
            description = "Install the proxy injector and its webhook, with a new webhook CA and serving certificate (a year) each time (default: ${DEFAULT-VALUE}).")
    boolean injector;

    @Option(names = "--injector-ca-file", paramLabel = "FILE",
            description = "The webhook's CA (PEM), with --injector-cert-file and --injector-key-file: keep the webhook's PKI across installs (default: a new one each time).")
    Path injectorCaFile;

    @Option(names = "--injector-cert-file", paramLabel = "FILE", description = "The webhook's serving certificate (PEM) for trellis-injector.<namespace>.svc.")
    Path injectorCertFile;

    @Option(names = "--injector-key-file", paramLabel = "FILE", description = "The serving certificate's key (PEM, EC P-256).")
    Path injectorKeyFile;

    @Option(names = "--native-sidecar", defaultValue = "auto", paramLabel = "auto|true|false",
            description = "How the injector adds proxies: native sidecars (Kubernetes 1.29+) or first containers; auto asks the API server (default: ${DEFAULT-VALUE}).")
    String nativeSidecar;

    @Option(names = "--prometheus", defaultValue = "true", arity = "1", paramLabel = "true|false",
            description = "Run a Prometheus beside viz, in its pod (default: ${DEFAULT-VALUE}); false: viz scrapes the proxies itself.")
    boolean prometheus;

    @Option(names = "--prometheus-image", defaultValue = InstallOptions.Builder.DEFAULT_PROMETHEUS_IMAGE, paramLabel = "IMAGE",
            description = "The Prometheus image (default: ${DEFAULT-VALUE}).")
    String prometheusImage;

    @Option(names = "--node-mode", description = {"Also install node mode (docs/node-mode.md): a node agent and a node proxy on every node, as DaemonSets,",
            "for pods annotated config.trellis.dev/proxy-mode: node; the identity service then serves node proxies. Off by default."})
    boolean nodeMode;

    @Option(names = "--strict-visibility", description = "Destination service: callers resolve only their namespace and what is exported to it.")
    boolean strictVisibility;

    @Override
    public Integer call() throws Exception {
        if (crds) {
            spec.commandLine().getOut().print(ManifestStream.yaml(ControlPlane.crds()));
            return 0;
        }
        InstallOptions.Builder options = InstallOptions.builder(identity())
                .namespace(controlPlane.namespace)
                .trustDomain(controlPlane.trustDomain)
                .clusterDomain(controlPlane.clusterDomain)
                .registry(registry)
                .imagePullPolicy(imagePullPolicy)
                .ha(ha)
                .controllerUid(controllerUid)
                .defaultInboundPolicy(InstallOptions.flag("--default-inbound-policy", () -> DefaultInboundPolicy.parse(defaultInboundPolicy)))
                .strictVisibility(strictVisibility)
                .nodeMode(nodeMode)
                .prometheusImage(prometheus ? java.util.Optional.of(prometheusImage) : java.util.Optional.empty())
                .leafLifetime(leafLifetime)
                .nativeSidecar(InstallOptions.flag("--native-sidecar", () -> NativeSidecarMode.parse(nativeSidecar)))
                .webhook(injector ? Optional.of(webhookTls()) : Optional.empty());
        if (version != null) {
            options.version(version);
        }
        spec.commandLine().getOut().print(ManifestStream.yaml(ControlPlane.objects(options.build(), new SecureRandom())));
        return 0;
    }

    /** The webhook's PKI from the three files, or a new one. */
    private InstallOptions.WebhookTls webhookTls() throws java.io.IOException {
        long given = java.util.stream.Stream.of(injectorCaFile, injectorCertFile, injectorKeyFile).filter(java.util.Objects::nonNull).count();
        if (given == 0) {
            return InstallOptions.WebhookTls.generate(controlPlane.namespace, controlPlane.clusterDomain, Instant.now());
        }
        if (given != 3) {
            throw new IllegalArgumentException("install: give --injector-ca-file, --injector-cert-file and --injector-key-file together, or none");
        }
        return dev.trellis.install.WebhookFiles.read(injectorCaFile, injectorCertFile, injectorKeyFile, controlPlane.namespace, Instant.now());
    }

    private InstallOptions.IdentityMaterial identity() throws Exception {
        Path anchors = file(trustAnchorsFile, "trust-anchor.pem", "--identity-trust-anchors-file");
        if (externalIssuer) {
            if (issuerCertificateFile != null || issuerKeyFile != null) {
                throw new IllegalArgumentException("install: --identity-external-issuer writes no issuer Secret; drop --identity-issuer-certificate-file and --identity-issuer-key-file");
            }
            return IdentityFiles.read(anchors, Optional.empty(), Instant.now());
        }
        Path certificate = file(issuerCertificateFile, "issuer.pem", "--identity-issuer-certificate-file");
        Path key = file(issuerKeyFile, "issuer-key.pem", "--identity-issuer-key-file");
        return IdentityFiles.read(anchors, Optional.of(new IdentityFiles.IssuerFiles(certificate, key)), Instant.now());
    }

    private Path file(Path given, String inDirectory, String flag) {
        if (given != null) {
            return given;
        }
        if (identityDir == null) {
            throw new IllegalArgumentException("install: no mesh PKI given: pass --identity-dir DIR (made by `trellis identity bootstrap --out DIR`) or " + flag);
        }
        return identityDir.resolve(inDirectory);
    }

    /** Options every command that names the installation shares. */
    static final class ControlPlaneOptions {
        @Option(names = "--namespace", defaultValue = ControlPlaneComponent.DEFAULT_NAMESPACE, description = "The control plane's namespace (default: ${DEFAULT-VALUE}).")
        String namespace;

        @Option(names = "--trust-domain", defaultValue = WorkloadIdentity.DEFAULT_TRUST_DOMAIN, description = "The mesh's trust domain (default: ${DEFAULT-VALUE}).")
        String trustDomain;

        @Option(names = "--cluster-domain", defaultValue = "cluster.local", description = "The cluster's DNS suffix (default: ${DEFAULT-VALUE}).")
        String clusterDomain;
    }
}
