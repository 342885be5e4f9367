package dev.trellis.testing.cluster;

import dev.trellis.testing.cluster.SimulatedCluster.Shell;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeProjection;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * One pod as the simulated kubelet runs it: a network namespace on the cluster's bridge with
 * the pod's address, its volumes materialized (ConfigMaps, Secrets, projected
 * service-account tokens minted for the audience asked, emptyDirs, the automounted API
 * token and CA), its init containers run to completion in order, then each container as a
 * process in a mount namespace of its own that shows exactly the spec's volumes at their
 * mount paths and the image's files ({@link ImageCatalog}), with the root read-only when
 * asked, under the spec's uid and gid, no new privileges and no capabilities but those added,
 * with the spec's command, arguments and environment (and the kubelet's
 * {@code KUBERNETES_SERVICE_*}, {@code HOSTNAME}). Readiness comes from the readiness probe,
 * polled from the host; a ready pod is reported to the cluster's controllers.
 */
public final class RunningPod implements AutoCloseable {

    private final SimulatedCluster cluster;
    private final Pod pod;
    private final String address;
    private final String netns;
    private final String hostInterface;
    private final Path dir;
    private final Map<String, Process> processes = new LinkedHashMap<>();
    private final List<String> sidecars = new ArrayList<>();
    private final List<String> admissionWarnings;
    /** Host directories the pod mounts (hostPath volumes): bound recursively, and host mounts below them propagate in. */
    private final java.util.Set<Path> hostPaths = new java.util.HashSet<>();
    private volatile boolean ready;
    /** The cluster has written this pod's readiness into the API (its status, EndpointSlices, its Deployment's status). */
    private volatile boolean recorded;
    private volatile boolean closed;

    private RunningPod(SimulatedCluster cluster, Pod pod, String address, String netns, String hostInterface, Path dir, List<String> admissionWarnings) {
        this.admissionWarnings = List.copyOf(admissionWarnings);
        this.cluster = cluster;
        this.pod = pod;
        this.address = address;
        this.netns = netns;
        this.hostInterface = hostInterface;
        this.dir = dir;
    }

    static RunningPod start(SimulatedCluster cluster, Pod pod, String address, String netns, String hostInterface, Path dir, List<String> warnings)
            throws Exception {
        RunningPod running = new RunningPod(cluster, pod, address, netns, hostInterface, dir, warnings);
        try {
            running.network();
            Map<String, Path> volumes = running.volumes();
            List<Container> inits = pod.getSpec().getInitContainers() == null ? List.of() : pod.getSpec().getInitContainers();
            for (Container init : inits) {
                if ("Always".equals(init.getRestartPolicy())) {
                    // A native sidecar: it keeps running; the next container starts once its startup probe passes.
                    running.sidecars.add(init.getName());
                    running.processes.put(init.getName(), running.launch(init, volumes));
                    running.awaitProbe(init, init.getStartupProbe(), Duration.ofSeconds(120));
                    continue;
                }
                Process process = running.launch(init, volumes);
                if (!process.waitFor(120, TimeUnit.SECONDS) || process.exitValue() != 0) {
                    throw new IllegalStateException("pod " + running.name() + ": init container " + init.getName() + " failed (exit "
                            + (process.isAlive() ? "none, still running" : process.exitValue()) + "):\n" + running.logTail(init.getName()));
                }
            }
            for (Container container : pod.getSpec().getContainers()) {
                running.processes.put(container.getName(), running.launch(container, volumes));
                running.postStart(container, volumes);
            }
            Thread.ofVirtual().name("readiness-" + running.name()).start(running::probeUntilReady);
            return running;
        } catch (Exception e) {
            running.close();
            throw e;
        }
    }

    /** The warnings the admission webhooks gave when the pod was created (empty for a pod that existed already). */
    public List<String> admissionWarnings() {
        return admissionWarnings;
    }

    public String name() {
        return pod.getMetadata().getName();
    }

    public String namespace() {
        return pod.getMetadata().getNamespace();
    }

    /** The node the pod runs on: its {@code spec.nodeName}, as the scheduler bound it. */
    public String nodeName() {
        return pod.getSpec().getNodeName() == null ? SimulatedCluster.DEFAULT_NODE : pod.getSpec().getNodeName();
    }

    /** The pod's IP address on the cluster's bridge. */
    public String address() {
        return address;
    }

    public boolean isReady() {
        return ready;
    }

    /**
     * Waits until the readiness probe passes and the cluster has recorded it (so a reader of the API
     * sees the pod ready); fails with each container's last log lines.
     */
    public RunningPod awaitReady(Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!recorded && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        if (!recorded) {
            StringBuilder logs = new StringBuilder();
            for (String container : processes.keySet()) {
                logs.append("--- ").append(container).append(processes.get(container).isAlive() ? " (running)" : " (exited " + processes.get(container).exitValue() + ")")
                        .append('\n').append(logTail(container)).append('\n');
            }
            throw new AssertionError("pod " + namespace() + "/" + name() + " not ready within " + limit + "\n" + logs);
        }
        return this;
    }

    /**
     * A Job's pod: waits until every regular container has exited, then stops the native
     * sidecars as the kubelet does, and answers each regular container's exit code.
     */
    public Map<String, Integer> awaitCompletion(Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        Map<String, Integer> exits = new LinkedHashMap<>();
        for (Container container : pod.getSpec().getContainers()) {
            Process process = processes.get(container.getName());
            if (!process.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                throw new AssertionError("pod " + namespace() + "/" + name() + ": container " + container.getName() + " still running after " + limit
                        + "\n" + logTail(container.getName()));
            }
            exits.put(container.getName(), process.exitValue());
        }
        for (String sidecar : sidecars) {
            Process process = processes.get(sidecar);
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                throw new AssertionError("pod " + name() + ": sidecar " + sidecar + " did not stop on SIGTERM within 30 s\n" + logTail(sidecar));
            }
        }
        return exits;
    }

    /** Whether a container's process still runs. */
    public boolean isRunning(String container) {
        Process process = processes.get(container);
        return process != null && process.isAlive();
    }

    /** A container's output so far. */
    public Path log(String container) {
        return dir.resolve(container + ".log");
    }

    public String logTail(String container) {
        try {
            List<String> lines = Files.readAllLines(log(container), StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** Runs a command in the pod's network namespace, as root on the host's file system (for tests to look inside). */
    public String exec(String... command) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", netns));
        full.addAll(List.of(command));
        return Shell.run(full.toArray(String[]::new));
    }

    Map<String, String> labels() {
        return pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
    }

    /** The native sidecars' names (the kubelet reports them among the init containers). */
    List<String> sidecarNames() {
        return List.copyOf(sidecars);
    }

    List<String> regularContainerNames() {
        return pod.getSpec().getContainers().stream().map(Container::getName).toList();
    }

    /** The native sidecars and the regular containers: what keeps running. */
    private List<Container> runningContainers() {
        List<Container> all = new ArrayList<>();
        for (Container init : pod.getSpec().getInitContainers() == null ? List.<Container>of() : pod.getSpec().getInitContainers()) {
            if ("Always".equals(init.getRestartPolicy())) {
                all.add(init);
            }
        }
        all.addAll(pod.getSpec().getContainers());
        return all;
    }

    Optional<String> ownerName() {
        List<OwnerReference> owners = pod.getMetadata().getOwnerReferences();
        return owners == null ? Optional.empty() : owners.stream().filter(o -> Boolean.TRUE.equals(o.getController())).map(OwnerReference::getName).findFirst();
    }

    /** A Service target port (a number, or a container port's name) as this pod's port number. */
    Optional<Integer> containerPort(IntOrString target) {
        if (target == null) {
            return Optional.empty();
        }
        if (target.getIntVal() != null) {
            return Optional.of(target.getIntVal());
        }
        return runningContainers().stream().flatMap(c -> c.getPorts() == null ? java.util.stream.Stream.<ContainerPort>empty() : c.getPorts().stream())
                .filter(p -> target.getStrVal().equals(p.getName())).map(ContainerPort::getContainerPort).findFirst();
    }

    private void network() throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Shell.run("ip", "netns", "add", netns);
        Shell.run("ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up");
        String peer = hostInterface + "p";
        Shell.run("ip", "link", "add", hostInterface, "type", "veth", "peer", "name", peer);
        Shell.run("ip", "link", "set", peer, "netns", netns);
        Shell.run("ip", "netns", "exec", netns, "ip", "link", "set", peer, "name", "eth0");
        Shell.run("ip", "netns", "exec", netns, "ip", "addr", "add", address + "/24", "dev", "eth0");
        Shell.run("ip", "netns", "exec", netns, "ip", "link", "set", "eth0", "up");
        Shell.run("ip", "netns", "exec", netns, "ip", "route", "add", "default", "via", cluster.subnet() + ".1");
        Shell.run("ip", "link", "set", hostInterface, "master", cluster.bridge());
        Shell.run("ip", "link", "set", hostInterface, "up");
        Path hosts = Path.of("/etc/netns", netns, "hosts");
        Files.createDirectories(hosts.getParent());
        List<String> lines = new ArrayList<>(List.of("127.0.0.1 localhost", address + " " + name()));
        lines.addAll(cluster.serviceHosts("cluster.local"));
        Files.writeString(hosts, String.join("\n", lines) + "\n");
    }

    /** Every volume of the spec, and the automounted service-account volume, as directories on the host. */
    private Map<String, Path> volumes() throws Exception {
        KubernetesClient client = cluster.client();
        PodSecurityContext podSecurity = pod.getSpec().getSecurityContext();
        Optional<Long> fsGroup = podSecurity == null ? Optional.empty() : Optional.ofNullable(podSecurity.getFsGroup());
        Map<String, Path> volumes = new LinkedHashMap<>();
        List<Volume> declared = pod.getSpec().getVolumes() == null ? List.of() : pod.getSpec().getVolumes();
        for (Volume volume : declared) {
            Path target = dir.resolve("volumes").resolve(volume.getName());
            Files.createDirectories(target);
            if (volume.getEmptyDir() != null) {
                Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxrwxrwx"));
            } else if (volume.getConfigMap() != null) {
                ConfigMap map = client.configMaps().inNamespace(namespace()).withName(volume.getConfigMap().getName()).get();
                if (map == null) {
                    throw new IllegalStateException("pod " + name() + ": ConfigMap " + volume.getConfigMap().getName() + " not found");
                }
                write(target, map.getData(), volume.getConfigMap().getItems(), volume.getConfigMap().getDefaultMode(), fsGroup);
            } else if (volume.getSecret() != null) {
                Secret secret = client.secrets().inNamespace(namespace()).withName(volume.getSecret().getSecretName()).get();
                if (secret == null) {
                    throw new IllegalStateException("pod " + name() + ": Secret " + volume.getSecret().getSecretName() + " not found");
                }
                write(target, secretData(secret), volume.getSecret().getItems(), volume.getSecret().getDefaultMode(), fsGroup);
            } else if (volume.getProjected() != null) {
                for (VolumeProjection source : volume.getProjected().getSources()) {
                    if (source.getServiceAccountToken() == null) {
                        throw new IllegalStateException("pod " + name() + ": projected volume " + volume.getName() + ": only serviceAccountToken sources are simulated");
                    }
                    String token = cluster.mintToken(namespace(), serviceAccount(), source.getServiceAccountToken().getAudience(), name());
                    write(target, Map.of(source.getServiceAccountToken().getPath(), token), null, volume.getProjected().getDefaultMode(), fsGroup);
                }
            } else if (volume.getHostPath() != null) {
                // The node's own directory, mounted with what is mounted below it, as the kubelet does.
                target = cluster.nodePath(nodeName(), volume.getHostPath().getPath());
                if ("DirectoryOrCreate".equals(volume.getHostPath().getType())) {
                    Files.createDirectories(target);
                } else if (!Files.isDirectory(target)) {
                    throw new IllegalStateException("pod " + name() + ": hostPath " + target + " is not a directory");
                }
                hostPaths.add(target);
            } else {
                throw new IllegalStateException("pod " + name() + ": volume " + volume.getName() + " is of a kind the simulated kubelet does not mount");
            }
            volumes.put(volume.getName(), target);
        }
        if (automountsToken(client)) {
            Path target = dir.resolve("volumes").resolve("kube-api-access");
            Files.createDirectories(target);
            write(target, Map.of("token", cluster.mintToken(namespace(), serviceAccount(), SimulatedCluster.API_AUDIENCE, name()),
                    "ca.crt", cluster.apiServerCaPem(), "namespace", namespace()), null, null, fsGroup);
            volumes.put("kube-api-access", target);
        }
        return volumes;
    }

    private boolean automountsToken(KubernetesClient client) {
        if (pod.getSpec().getAutomountServiceAccountToken() != null) {
            return pod.getSpec().getAutomountServiceAccountToken();
        }
        ServiceAccount account = client.serviceAccounts().inNamespace(namespace()).withName(serviceAccount()).get();
        return account == null || account.getAutomountServiceAccountToken() == null || account.getAutomountServiceAccountToken();
    }

    private String serviceAccount() {
        return pod.getSpec().getServiceAccountName() == null ? "default" : pod.getSpec().getServiceAccountName();
    }

    private static Map<String, String> secretData(Secret secret) {
        Map<String, String> data = new LinkedHashMap<>();
        if (secret.getData() != null) {
            secret.getData().forEach((k, v) -> data.put(k, new String(Base64.getDecoder().decode(v), StandardCharsets.UTF_8)));
        }
        if (secret.getStringData() != null) {
            data.putAll(secret.getStringData());
        }
        return data;
    }

    /** Writes {@code data} (or only {@code items} of it) into {@code directory}, owned by root and the pod's fsGroup, with the volume's mode. */
    private void write(Path directory, Map<String, String> data, List<KeyToPath> items, Integer defaultMode, Optional<Long> fsGroup)
            throws IOException, InterruptedException {
        Map<String, String> files = new LinkedHashMap<>();
        if (items == null || items.isEmpty()) {
            if (data != null) {
                files.putAll(data);
            }
        } else {
            for (KeyToPath item : items) {
                files.put(item.getPath(), data.get(item.getKey()));
            }
        }
        int mode = defaultMode == null ? 0644 : defaultMode;
        for (Map.Entry<String, String> file : files.entrySet()) {
            Path path = directory.resolve(file.getKey());
            Files.createDirectories(path.getParent());
            Files.writeString(path, file.getValue());
            Shell.run("chmod", Integer.toOctalString(mode), path.toString());
        }
        if (fsGroup.isPresent()) {
            Shell.run("chown", "-R", "0:" + fsGroup.get(), directory.toString());
        }
    }

    /** Starts one container as a process, exactly as its spec says; output to its log. */
    private Process launch(Container container, Map<String, Path> volumes) throws IOException {
        ImageCatalog.Image image = cluster.images().image(container.getImage());
        List<String> command = new ArrayList<>(container.getCommand() != null && !container.getCommand().isEmpty() ? container.getCommand() : image.entrypoint());
        if (container.getArgs() != null && !container.getArgs().isEmpty()) {
            command.addAll(container.getArgs());
        } else if (container.getCommand() == null || container.getCommand().isEmpty()) {
            command.addAll(image.cmd());
        }
        if (command.isEmpty()) {
            throw new IllegalStateException("pod " + name() + ": container " + container.getName() + " has no command");
        }
        PodSecurityContext podSecurity = Optional.ofNullable(pod.getSpec().getSecurityContext()).orElse(new PodSecurityContext());
        SecurityContext security = Optional.ofNullable(container.getSecurityContext()).orElse(new SecurityContext());
        long uid = Optional.ofNullable(security.getRunAsUser()).or(() -> Optional.ofNullable(podSecurity.getRunAsUser())).or(image::user).orElse(0L);
        long gid = Optional.ofNullable(security.getRunAsGroup()).or(() -> Optional.ofNullable(podSecurity.getRunAsGroup())).orElse(0L);
        boolean nonRoot = Boolean.TRUE.equals(Optional.ofNullable(security.getRunAsNonRoot()).orElse(podSecurity.getRunAsNonRoot()));
        if (nonRoot && uid == 0) {
            throw new IllegalStateException("pod " + name() + ": container " + container.getName() + " has runAsNonRoot and would run as root");
        }
        boolean privileged = Boolean.TRUE.equals(security.getPrivileged());

        // Everything the container sees, source (host) to target (container path) with read-only flag, in mount order.
        List<Map.Entry<Path, String>> binds = new ArrayList<>();
        List<Boolean> readOnly = new ArrayList<>();
        for (Map.Entry<String, Path> file : image.files().entrySet()) {
            binds.add(Map.entry(file.getValue(), file.getKey()));
            readOnly.add(true);
        }
        List<VolumeMount> mounts = new ArrayList<>(container.getVolumeMounts() == null ? List.of() : container.getVolumeMounts());
        if (volumes.containsKey("kube-api-access")) {
            mounts.add(new io.fabric8.kubernetes.api.model.VolumeMountBuilder().withName("kube-api-access")
                    .withMountPath("/var/run/secrets/kubernetes.io/serviceaccount").withReadOnly(true).build());
        }
        for (VolumeMount mount : mounts) {
            Path source = volumes.get(mount.getName());
            if (source == null) {
                throw new IllegalStateException("pod " + name() + ": container " + container.getName() + " mounts volume " + mount.getName() + ", which the pod does not have");
            }
            binds.add(Map.entry(mount.getSubPath() == null ? source : source.resolve(mount.getSubPath()), mount.getMountPath()));
            readOnly.add(Boolean.TRUE.equals(mount.getReadOnly()));
        }
        StringBuilder script = new StringBuilder("set -e\n");
        // Sources are staged first: a later mount (an emptyDir on /tmp, say) may hide where they live on the host.
        script.append("mount -t tmpfs -o mode=0700 tmpfs /mnt\n");
        for (int i = 0; i < binds.size(); i++) {
            stage(script, binds.get(i).getKey(), "/mnt/" + i, hostPaths.contains(binds.get(i).getKey()));
        }
        if (Boolean.TRUE.equals(security.getReadOnlyRootFilesystem())) {
            script.append("mount -o remount,bind,ro /\n");
        }
        // The image's own directories and the kubelet's mount points live on fresh tmpfs, not on the host's /run and /opt.
        script.append("mount -t tmpfs -o mode=0755 tmpfs /run\nmount -t tmpfs -o mode=0755 tmpfs /opt\n");
        for (int i = 0; i < binds.size(); i++) {
            bind(script, binds.get(i).getKey(), "/mnt/" + i, binds.get(i).getValue(), readOnly.get(i), hostPaths.contains(binds.get(i).getKey()));
        }
        script.append("umount -l /mnt\n");

        Map<String, String> environment = new LinkedHashMap<>(image.env());
        environment.put("HOSTNAME", name());
        environment.put("KUBERNETES_SERVICE_HOST", cluster.subnet() + ".1");
        environment.put("KUBERNETES_SERVICE_PORT", String.valueOf(cluster.apiServerPort()));
        environment.put("KUBERNETES_SERVICE_PORT_HTTPS", String.valueOf(cluster.apiServerPort()));
        for (EnvVar variable : container.getEnv() == null ? List.<EnvVar>of() : container.getEnv()) {
            environment.put(variable.getName(), expand(value(variable), environment));
        }
        command.replaceAll(word -> expand(word, environment));

        List<String> launcher = new ArrayList<>(List.of("ip", "netns", "exec", netns, "sh", "-c", script + "exec \"$@\"", "pod-" + container.getName()));
        launcher.add("env");
        launcher.add("-i");
        environment.forEach((k, v) -> launcher.add(k + "=" + v));
        if (!privileged) {
            launcher.addAll(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid));
            List<Long> groups = new ArrayList<>();
            Optional.ofNullable(podSecurity.getFsGroup()).ifPresent(groups::add);
            Optional.ofNullable(podSecurity.getSupplementalGroups()).ifPresent(groups::addAll);
            launcher.add(groups.isEmpty() ? "--clear-groups" : "--groups=" + groups.stream().map(String::valueOf).collect(Collectors.joining(",")));
            if (Boolean.FALSE.equals(security.getAllowPrivilegeEscalation())) {
                launcher.add("--no-new-privs");
            }
            List<String> added = security.getCapabilities() == null || security.getCapabilities().getAdd() == null ? List.of()
                    : security.getCapabilities().getAdd().stream().map(c -> "+" + c.toLowerCase(java.util.Locale.ROOT).replaceFirst("^cap_", "")).toList();
            boolean dropsAll = security.getCapabilities() != null && security.getCapabilities().getDrop() != null && security.getCapabilities().getDrop().contains("ALL");
            if (dropsAll || uid != 0) {
                String caps = "-all" + (added.isEmpty() ? "" : "," + String.join(",", added));
                launcher.add("--bounding-set=" + caps);
                launcher.add("--inh-caps=" + caps);
            }
            launcher.add("--");
        }
        launcher.addAll(command);
        ProcessBuilder builder = new ProcessBuilder(launcher).redirectErrorStream(true).redirectOutput(log(container.getName()).toFile());
        return builder.start();
    }

    /** Binds {@code source} at {@code staging}, where later mounts cannot hide it; {@code recursive} with the mounts below it. */
    private static void stage(StringBuilder script, Path source, String staging, boolean recursive) {
        script.append(Files.isDirectory(source) ? "mkdir " : "touch ").append(quote(staging)).append('\n')
                .append(recursive ? "mount --rbind " : "mount --bind ").append(quote(source.toString())).append(' ').append(quote(staging)).append('\n');
    }

    /**
     * Binds the staged {@code source} at {@code target}, read-only when asked; a host path
     * ({@code recursive}) with the mounts below it, later host mounts propagating in
     * (HostToContainer).
     */
    private static void bind(StringBuilder script, Path source, String staging, String target, boolean readOnly, boolean recursive) {
        String quotedTarget = quote(target);
        if (Files.isDirectory(source)) {
            script.append("mkdir -p ").append(quotedTarget).append('\n');
        } else {
            script.append("mkdir -p \"$(dirname ").append(quotedTarget).append(")\"\n[ -e ").append(quotedTarget).append(" ] || touch ").append(quotedTarget).append('\n');
        }
        script.append(recursive ? "mount --rbind " : "mount --bind ").append(quote(staging)).append(' ').append(quotedTarget).append('\n');
        if (recursive) {
            script.append("mount --make-rslave ").append(quotedTarget).append('\n');
        }
        if (readOnly) {
            script.append("mount -o remount,bind,ro ").append(quotedTarget).append('\n');
        }
    }

    /** The kubelet's {@code $(VAR)} references to variables defined before; {@code $$} escapes, unknown ones stay as written. */
    static String expand(String text, Map<String, String> defined) {
        java.util.regex.Matcher reference = java.util.regex.Pattern.compile("\\$\\$|\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)").matcher(text);
        StringBuilder out = new StringBuilder();
        while (reference.find()) {
            String replacement = reference.group(1) == null ? "$" : defined.getOrDefault(reference.group(1), reference.group());
            reference.appendReplacement(out, java.util.regex.Matcher.quoteReplacement(replacement));
        }
        reference.appendTail(out);
        return out.toString();
    }

    private static String quote(String text) {
        return "'" + text.replace("'", "'\\''") + "'";
    }

    private String value(EnvVar variable) {
        if (variable.getValueFrom() == null) {
            return variable.getValue() == null ? "" : variable.getValue();
        }
        var from = variable.getValueFrom();
        if (from.getFieldRef() != null) {
            return switch (from.getFieldRef().getFieldPath()) {
                case "metadata.name" -> name();
                case "metadata.namespace" -> namespace();
                case "status.podIP" -> address;
                case "spec.serviceAccountName" -> serviceAccount();
                case "spec.nodeName" -> nodeName();
                default -> throw new IllegalStateException("pod " + name() + ": env " + variable.getName() + ": fieldRef " + from.getFieldRef().getFieldPath() + " is not simulated");
            };
        }
        if (from.getSecretKeyRef() != null) {
            Secret secret = cluster.client().secrets().inNamespace(namespace()).withName(from.getSecretKeyRef().getName()).get();
            return secretData(secret).get(from.getSecretKeyRef().getKey());
        }
        if (from.getConfigMapKeyRef() != null) {
            return cluster.client().configMaps().inNamespace(namespace()).withName(from.getConfigMapKeyRef().getName()).get().getData().get(from.getConfigMapKeyRef().getKey());
        }
        throw new IllegalStateException("pod " + name() + ": env " + variable.getName() + " has a source the simulated kubelet does not know");
    }

    /** Polls {@code probe} (an HTTP GET, or none: the process running is enough) until it passes; fails with the log. */
    private void awaitProbe(Container container, Probe probe, Duration limit) throws InterruptedException, IOException {
        long deadline = System.nanoTime() + limit.toNanos();
        HttpClient http = kubeletProber();
        while (System.nanoTime() < deadline) {
            Process process = processes.get(container.getName());
            if (!process.isAlive()) {
                throw new IllegalStateException("pod " + name() + ": container " + container.getName() + " exited " + process.exitValue()
                        + " before it started:\n" + logTail(container.getName()));
            }
            if (probe == null || probe.getHttpGet() == null || answers(http, probe)) {
                return;
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("pod " + name() + ": container " + container.getName() + "'s startup probe did not pass within " + limit
                + ":\n" + logTail(container.getName()));
    }

    /**
     * A postStart exec hook, run as the kubelet runs it: in the container (its image, mounts,
     * user and environment), and the pod's next container waits until it returns; a failing
     * hook fails the pod.
     */
    private void postStart(Container container, Map<String, Path> volumes) throws IOException, InterruptedException {
        if (container.getLifecycle() == null || container.getLifecycle().getPostStart() == null || container.getLifecycle().getPostStart().getExec() == null) {
            return;
        }
        Container hook = new io.fabric8.kubernetes.api.model.ContainerBuilder(container).withName(container.getName() + "-poststart")
                .withCommand(container.getLifecycle().getPostStart().getExec().getCommand()).withArgs(List.of()).build();
        Process process = launch(hook, volumes);
        if (!process.waitFor(150, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IllegalStateException("pod " + name() + ": postStart hook of " + container.getName() + " failed:\n" + logTail(hook.getName()));
        }
    }

    /** Probes as the kubelet sends them: plain HTTP/1.1, a new connection each time (no h2c upgrade offer). */
    private static HttpClient kubeletProber() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(1)).build();
    }

    private boolean answers(HttpClient http, Probe probe) throws InterruptedException {
        int port = containerPort(probe.getHttpGet().getPort())
                .orElseThrow(() -> new IllegalStateException("pod " + name() + ": probe port " + probe.getHttpGet().getPort() + " unknown"));
        try {
            HttpResponse<Void> answer = http.send(HttpRequest.newBuilder(URI.create("http://" + address + ":" + port + probe.getHttpGet().getPath()))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding());
            return answer.statusCode() >= 200 && answer.statusCode() < 400;
        } catch (IOException e) {
            return false;
        }
    }

    /** Polls each container's readiness probe from the host until all pass, then tells the cluster. */
    private void probeUntilReady() {
        HttpClient http = kubeletProber();
        while (!closed && !ready) {
            boolean all = true;
            for (Container container : runningContainers()) {
                Process process = processes.get(container.getName());
                if (process == null || !process.isAlive()) {
                    all = false;
                    continue;
                }
                Probe probe = container.getReadinessProbe();
                if (probe == null || probe.getHttpGet() == null) {
                    continue;
                }
                try {
                    all &= answers(http, probe);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            if (all) {
                ready = true;
                cluster.ready(this);
                recorded = true;
                return;
            }
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        closed = true;
        for (Process process : processes.values()) {
            process.descendants().forEach(ProcessHandle::destroy);
            process.destroy();
        }
        for (Process process : processes.values()) {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
            }
        }
        new ProcessBuilder("ip", "netns", "del", netns).start().waitFor(10, TimeUnit.SECONDS);
        new ProcessBuilder("ip", "link", "del", hostInterface).start().waitFor(10, TimeUnit.SECONDS);
        Path own = Path.of("/etc/netns", netns);
        if (Files.exists(own)) {
            try (var files = Files.list(own)) {
                for (Path file : files.toList()) {
                    Files.delete(file);
                }
            }
            Files.delete(own);
        }
    }
}
