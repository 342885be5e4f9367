package dev.trellis.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A Linux network namespace made by a test (as root), standing in for a pod: its own
 * interfaces, routes and iptables rules, and processes started inside it. Closing it kills
 * its processes and deletes it, and with it the veth ends inside.
 */
public final class NetworkNamespace implements AutoCloseable {

    private final String name;
    private final List<Process> processes = new ArrayList<>();

    private NetworkNamespace(String name) {
        this.name = name;
    }

    /** True when this process may make namespaces: root, with {@code ip} and {@code iptables} installed. */
    public static boolean available() {
        boolean root = "root".equals(System.getProperty("user.name"));
        boolean ip = Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip"));
        boolean iptables = Files.isExecutable(Path.of("/usr/sbin/iptables")) || Files.isExecutable(Path.of("/sbin/iptables"));
        return root && ip && iptables;
    }

    /** Creates the namespace with its loopback up. */
    public static NetworkNamespace create(String name) throws IOException, InterruptedException {
        if (name.length() > 30) {
            throw new IllegalArgumentException("netns: name '" + name + "' too long");
        }
        exec(List.of("ip", "netns", "add", name));
        NetworkNamespace ns = new NetworkNamespace(name);
        ns.run("ip", "link", "set", "lo", "up");
        return ns;
    }

    public String name() {
        return name;
    }

    /**
     * Links two namespaces (or one and the root namespace, when {@code b} is null) with a veth
     * pair, addresses both ends ({@code a.b.c.d/len}) and brings them up.
     */
    public static void link(NetworkNamespace a, String aInterface, String aAddress, NetworkNamespace b, String bInterface, String bAddress)
            throws IOException, InterruptedException {
        exec(List.of("ip", "link", "add", aInterface, "type", "veth", "peer", "name", bInterface));
        exec(List.of("ip", "link", "set", aInterface, "netns", a.name));
        a.run("ip", "addr", "add", aAddress, "dev", aInterface);
        a.run("ip", "link", "set", aInterface, "up");
        if (b != null) {
            exec(List.of("ip", "link", "set", bInterface, "netns", b.name));
            b.run("ip", "addr", "add", bAddress, "dev", bInterface);
            b.run("ip", "link", "set", bInterface, "up");
        } else {
            exec(List.of("ip", "addr", "add", bAddress, "dev", bInterface));
            exec(List.of("ip", "link", "set", bInterface, "up"));
        }
    }

    /**
     * Gives processes started in this namespace an {@code /etc/hosts} of their own (iproute2
     * mounts {@code /etc/netns/NAME/hosts} over it for them): {@code lines} like
     * {@code 10.1.2.3 api.example.test}. Removed on close.
     */
    public void hosts(List<String> lines) throws IOException {
        Path file = Path.of("/etc/netns", name, "hosts");
        Files.createDirectories(file.getParent());
        Files.writeString(file, "127.0.0.1 localhost\n" + String.join("\n", lines) + "\n");
    }

    /** Runs a command inside the namespace and returns its standard output; fails on a non-zero exit. */
    public String run(String... command) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", name));
        full.addAll(List.of(command));
        return exec(full);
    }

    /** Runs a command inside the namespace with a time limit; returns its output, whatever the exit code. */
    public String runFor(Duration limit, String... command) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>(List.of("timeout", "--kill-after=2", String.valueOf(Math.max(1, limit.toSeconds())), "ip", "netns", "exec", name));
        full.addAll(List.of(command));
        Process process = new ProcessBuilder(full).redirectErrorStream(true).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        process.waitFor(limit.toSeconds() + 5, TimeUnit.SECONDS);
        return out;
    }

    /** Starts a long-running process inside the namespace, output to {@code log}; it is killed on close. */
    public Process start(List<String> command, Path log) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", name));
        full.addAll(command);
        Process process = new ProcessBuilder(full).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        processes.add(process);
        return process;
    }

    @Override
    public void close() throws IOException, InterruptedException {
        for (Process process : processes) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        exec(List.of("ip", "netns", "del", name));
        Path own = Path.of("/etc/netns", name);
        if (Files.exists(own)) {
            try (var files = Files.list(own)) {
                for (Path file : files.toList()) {
                    Files.delete(file);
                }
            }
            Files.delete(own);
        }
    }

    private static String exec(List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(30, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IOException("netns: '" + String.join(" ", command) + "' failed: " + out.strip());
        }
        return out;
    }
}
