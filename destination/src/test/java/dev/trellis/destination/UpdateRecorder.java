package dev.trellis.destination;

import dev.trellis.api.destination.v1.Update;
import dev.trellis.destination.translate.Endpoints;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

/** Records a Get stream and keeps the endpoint set it describes, as a proxy would. */
final class UpdateRecorder implements StreamObserver<Update> {

    final List<Update> updates = new CopyOnWriteArrayList<>();
    final AtomicReference<Throwable> error = new AtomicReference<>();
    private final Set<String> endpoints = new TreeSet<>();
    private final List<String> identities = new CopyOnWriteArrayList<>();

    @Override
    public synchronized void onNext(Update update) {
        updates.add(update);
        switch (update.getUpdateCase()) {
            case ADD -> update.getAdd().getAddrsList().forEach(a -> {
                endpoints.add(Endpoints.key(a));
                identities.add(a.getTlsIdentity().getSpiffeId());
            });
            case REMOVE -> update.getRemove().getAddrsList().forEach(a -> endpoints.remove(Endpoints.key(a)));
            case NO_ENDPOINTS -> endpoints.clear();
            default -> { }
        }
    }

    synchronized Set<String> endpoints() {
        return new TreeSet<>(endpoints);
    }

    List<String> identities() {
        return List.copyOf(identities);
    }

    @Override
    public void onError(Throwable t) {
        error.set(t);
    }

    @Override
    public void onCompleted() {
    }
}
