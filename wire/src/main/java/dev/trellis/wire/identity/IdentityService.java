package dev.trellis.wire.identity;

/** The gRPC path of {@code trellis.identity.v1.Identity}, as its .proto names it. */
public final class IdentityService {

    /** {@code rpc Certify(CertifyRequest) returns (CertifyResponse)}. */
    public static final String CERTIFY = "/trellis.identity.v1.Identity/Certify";

    private IdentityService() {
    }
}
