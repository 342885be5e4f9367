package dev.trellis.identity.audit;

import java.time.Instant;

/**
 * One decision of the identity service.
 *
 * @param time                  when it was decided
 * @param peer                  the caller's address
 * @param requestedIdentity     the identity asked for, as sent (may be malformed)
 * @param authenticatedIdentity the identity the token proved, or null when none was proved
 * @param outcome               {@code issued}, {@code refused}, {@code rate_limited} or {@code unavailable}
 * @param reason                why, for every outcome but {@code issued}
 * @param serial                the certificate serial (hex) when issued
 * @param notAfter              the certificate's notAfter when issued
 */
public record AuditEvent(
        Instant time,
        String peer,
        String requestedIdentity,
        String authenticatedIdentity,
        String outcome,
        String reason,
        String serial,
        Instant notAfter) {}
