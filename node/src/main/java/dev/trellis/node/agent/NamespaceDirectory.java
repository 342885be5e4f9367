package dev.trellis.node.agent;

import dev.trellis.node.handoff.HandoffMessage.PodRef;
import dev.trellis.node.handoff.LinuxSockets;
import java.io.IOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

/**
 * Pods' network namespaces as the container runtime keeps them: files in a directory
 * ({@code /var/run/netns} for containerd and CRI-O, mounted from the host), the pod's being
 * the one with an interface holding the pod's IPv4 address. Each candidate is entered on the
 * calling thread and left again; the agent keeps the descriptor found while it serves the pod.
 */
public final class NamespaceDirectory implements PodNetworks {

    /** Most namespace files looked at per search. */
    static final int MAX_CANDIDATES = 4096;

    private final Path directory;
    private final int home;

    /** {@code home}: a descriptor of the agent's own namespace, to come back to. */
    public NamespaceDirectory(Path directory, int home) {
        this.directory = directory;
        this.home = home;
    }

    @Override
    public int open(PodRef pod) throws IOException {
        InetAddress wanted = InetAddress.getByName(pod.ip());
        List<Path> candidates;
        try (Stream<Path> files = Files.list(directory)) {
            candidates = files.filter(Files::isRegularFile).sorted().limit(MAX_CANDIDATES).toList();
        }
        for (Path candidate : candidates) {
            int fd;
            try {
                fd = LinuxSockets.open(candidate);
            } catch (IOException e) {
                continue;
            }
            boolean match;
            try {
                match = LinuxSockets.inNamespace(fd, home, () -> holds(wanted));
            } catch (IOException e) {
                match = false;
            }
            if (match) {
                return fd;
            }
            LinuxSockets.close(fd);
        }
        throw new IOException("node agent: no network namespace in " + directory + " has pod " + pod.shortName() + "'s address " + pod.ip());
    }

    private static boolean holds(InetAddress address) throws IOException {
        for (NetworkInterface network : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (Collections.list(network.getInetAddresses()).contains(address)) {
                return true;
            }
        }
        return false;
    }
}
