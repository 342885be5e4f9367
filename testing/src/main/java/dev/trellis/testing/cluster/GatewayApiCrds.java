package dev.trellis.testing.cluster;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import java.util.List;

/**
 * Stand-ins for the Gateway API's own CRDs of HTTPRoute and GRPCRoute, as a user applies them
 * from a release's standard channel: the same group, names, version, scope, status subresource
 * and the release's annotations ({@code gateway.networking.k8s.io/bundle-version},
 * {@code gateway.networking.k8s.io/channel}). The upstream files cannot be fetched here, and the
 * simulated API server validates nothing, so the schema is left open; everything Trellis reads
 * of a CRD (names, version, annotations) is as upstream writes it.
 */
public final class GatewayApiCrds {

    public static final String GROUP = "gateway.networking.k8s.io";
    public static final String BUNDLE_VERSION = "gateway.networking.k8s.io/bundle-version";
    public static final String CHANNEL = "gateway.networking.k8s.io/channel";

    private GatewayApiCrds() {
    }

    /** HTTPRoute and GRPCRoute of release {@code bundleVersion} (for example {@code v1.3.0}), standard channel. */
    public static List<CustomResourceDefinition> standard(String bundleVersion) {
        return List.of(crd("HTTPRoute", "httproutes", "HTTPRouteList", "v1", "standard", bundleVersion),
                crd("GRPCRoute", "grpcroutes", "GRPCRouteList", "v1", "standard", bundleVersion));
    }

    /** The experimental channel's TCPRoute ({@code v1alpha2}) of release {@code bundleVersion}. */
    public static CustomResourceDefinition experimentalTcpRoute(String bundleVersion) {
        return crd("TCPRoute", "tcproutes", "TCPRouteList", "v1alpha2", "experimental", bundleVersion);
    }

    private static CustomResourceDefinition crd(String kind, String plural, String listKind, String version, String channel, String bundleVersion) {
        return new CustomResourceDefinitionBuilder()
                .withNewMetadata().withName(plural + "." + GROUP)
                .addToAnnotations(BUNDLE_VERSION, bundleVersion).addToAnnotations(CHANNEL, channel)
                .addToAnnotations("api-approved.kubernetes.io", "https://github.com/kubernetes-sigs/gateway-api/pull/3328")
                .endMetadata()
                .withNewSpec().withGroup(GROUP).withScope("Namespaced")
                .withNewNames().withKind(kind).withListKind(listKind).withPlural(plural).withSingular(kind.toLowerCase(java.util.Locale.ROOT))
                .withCategories("gateway-api").endNames()
                .addNewVersion().withName(version).withServed(true).withStorage(true)
                .withNewSubresources().withNewStatus().endStatus().endSubresources()
                .withNewSchema().withNewOpenAPIV3Schema().withType("object").withXKubernetesPreserveUnknownFields(true).endOpenAPIV3Schema().endSchema()
                .endVersion()
                .endSpec().build();
    }
}
