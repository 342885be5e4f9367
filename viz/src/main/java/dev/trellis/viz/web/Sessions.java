package dev.trellis.viz.web;

import static java.util.Objects.requireNonNull;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Logged-in browsers. A session is a random id in an HttpOnly cookie (only its hash is kept)
 * and a CSRF token the pages send back on every request that changes something. It ends at
 * logout, after {@code idle} unused, or {@code lifetime} after login, whichever comes first.
 * At most {@code max} sessions live at once. Thread-safe.
 */
final class Sessions {

    /** A live session: who, its CSRF token, when it began and when it was last used. */
    static final class Session {
        final String idHash;
        final Viewer viewer;
        final String csrf;
        final Instant began;
        volatile Instant lastUsed;

        Session(String idHash, Viewer viewer, String csrf, Instant began) {
            this.idHash = idHash;
            this.viewer = viewer;
            this.csrf = csrf;
            this.began = began;
            this.lastUsed = began;
        }

        /** Whether {@code token} is this session's CSRF token (compared in constant time). */
        boolean csrfMatches(String token) {
            return token != null && MessageDigest.isEqual(token.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                    csrf.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
    }

    /** A new session: the id for the cookie, and the session. */
    record Started(String id, Session session) {}

    private final ConcurrentHashMap<String, Session> byIdHash = new ConcurrentHashMap<>();
    private final DashboardConfig config;
    private final Clock clock;
    private final SecureRandom random = new SecureRandom();

    Sessions(DashboardConfig config, Clock clock) {
        this.config = requireNonNull(config, "config");
        this.clock = requireNonNull(clock, "clock");
    }

    /**
     * Starts a session for {@code viewer}.
     *
     * @throws IllegalStateException when {@code maxSessions} are live
     */
    Started start(Viewer viewer) {
        Instant now = clock.instant();
        byIdHash.values().removeIf(s -> expired(s, now));
        if (byIdHash.size() >= config.maxSessions()) {
            throw new IllegalStateException("dashboard: " + config.maxSessions() + " sessions are live; log out of one or wait for one to expire");
        }
        String id = token();
        Session session = new Session(LoginCodes.hash(id), viewer, token(), now);
        byIdHash.put(session.idHash, session);
        return new Started(id, session);
    }

    /** The live session with cookie value {@code id}, marked used now; empty when unknown or expired (an expired one is ended). */
    Optional<Session> find(String id) {
        if (id == null || id.isEmpty() || id.length() > 64) {
            return Optional.empty();
        }
        String hash = LoginCodes.hash(id);
        Session session = byIdHash.get(hash);
        if (session == null) {
            return Optional.empty();
        }
        Instant now = clock.instant();
        if (expired(session, now)) {
            byIdHash.remove(hash, session);
            return Optional.empty();
        }
        session.lastUsed = now;
        return Optional.of(session);
    }

    /** Whether {@code session} is still live (not ended, not expired), without marking it used. */
    boolean isLive(Session session) {
        return byIdHash.get(session.idHash) == session && !expired(session, clock.instant());
    }

    void end(Session session) {
        byIdHash.remove(session.idHash, session);
    }

    /** When {@code session} ends if unused from now on. */
    Instant expiry(Session session) {
        Instant idle = session.lastUsed.plus(config.sessionIdle());
        Instant absolute = session.began.plus(config.sessionLifetime());
        return idle.isBefore(absolute) ? idle : absolute;
    }

    int live() {
        return byIdHash.size();
    }

    private boolean expired(Session session, Instant now) {
        return !expiry(session).isAfter(now);
    }

    private String token() {
        byte[] bytes = new byte[24];
        random.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
