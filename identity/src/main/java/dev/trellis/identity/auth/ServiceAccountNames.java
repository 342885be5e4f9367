package dev.trellis.identity.auth;

import dev.trellis.core.text.UntrustedText;
import dev.trellis.core.identity.WorkloadIdentity;

/** Reads Kubernetes service-account user names, {@code system:serviceaccount:<ns>:<sa>}. */
final class ServiceAccountNames {

    private static final String PREFIX = "system:serviceaccount:";

    private ServiceAccountNames() {}

    static WorkloadIdentity parse(String userName, String trustDomain) throws AuthenticationException {
        if (!userName.startsWith(PREFIX)) {
            throw new AuthenticationException(AuthenticationException.Kind.UNAUTHENTICATED,
                    "token is for '" + printable(userName) + "', not a service account (system:serviceaccount:<ns>:<sa>)");
        }
        String[] parts = userName.substring(PREFIX.length()).split(":", -1);
        if (parts.length != 2) {
            throw new AuthenticationException(AuthenticationException.Kind.UNAUTHENTICATED,
                    "token subject '" + printable(userName) + "' is not system:serviceaccount:<ns>:<sa>");
        }
        try {
            return new WorkloadIdentity(trustDomain, parts[0], parts[1]);
        } catch (IllegalArgumentException e) {
            throw new AuthenticationException(AuthenticationException.Kind.UNAUTHENTICATED, e.getMessage(), e);
        }
    }

    private static String printable(String value) {
        return UntrustedText.printable(value, 100);
    }
}
