package dev.trellis.cluster.policy;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * The CustomResourceDefinitions of the seven policy kinds, read from the one place they are
 * written ({@code crds.yaml} beside this class) as typed objects: {@code trellis install
 * --crds} prints them and {@code trellis check} compares the cluster's with them.
 */
public final class PolicyCrds {

    private static final String RESOURCE = "crds.yaml";

    private PolicyCrds() {
    }

    /** The seven definitions, in the order of {@link PolicyResources#KINDS}. */
    public static List<CustomResourceDefinition> all() {
        try (InputStream in = PolicyCrds.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("cluster: " + RESOURCE + " is missing from the class path");
            }
            Object parsed = new KubernetesSerialization().unmarshal(in);
            List<?> items = parsed instanceof List<?> documents ? documents : List.of(parsed);
            return items.stream().map(CustomResourceDefinition.class::cast).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cluster: cannot read " + RESOURCE, e);
        }
    }
}
