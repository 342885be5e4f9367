package dev.trellis.node.agent;

import dev.trellis.node.handoff.HandoffMessage.PodRef;
import java.util.Map;
import java.util.function.Consumer;

/** The pods a node agent serves: the opted-in pods scheduled on its node that have an address. Thread-safe. */
public interface PodFeed extends AutoCloseable {

    /** The pods to serve now, by uid. */
    Map<String, PodRef> current();

    /** Calls {@code changed} after every change (on the feed's thread); closing the handle stops it. */
    AutoCloseable subscribe(Consumer<Map<String, PodRef>> changed);

    @Override
    void close();
}
