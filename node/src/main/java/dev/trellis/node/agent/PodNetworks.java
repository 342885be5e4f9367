package dev.trellis.node.agent;

import dev.trellis.node.handoff.HandoffMessage.PodRef;
import java.io.IOException;

/** Finds a pod's network namespace. Called only on the agent's namespace thread. */
public interface PodNetworks {

    /**
     * An open descriptor of {@code pod}'s network namespace (the caller closes it).
     *
     * @throws IOException naming the pod when none is found
     */
    int open(PodRef pod) throws IOException;
}
