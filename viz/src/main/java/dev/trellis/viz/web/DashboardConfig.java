package dev.trellis.viz.web;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.net.HostPort;
import dev.trellis.ratelimit.RateLimit;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Everything the dashboard's web server can be told, with its defaults in one place. Built
 * with {@link #builder()}; immutable.
 *
 * @param listen            where it listens (default 127.0.0.1, any free port)
 * @param allowedHosts      Host header names accepted (DNS-rebinding defence); always holds localhost, 127.0.0.1 and [::1]
 * @param secureCookies     mark cookies Secure (behind TLS)
 * @param sessionIdle       a session unused this long ends (default 30 min)
 * @param sessionLifetime   a session ends this long after login, used or not (default 12 h)
 * @param maxSessions       live sessions at most; a login beyond is refused (default 1,000)
 * @param loginCodeLifetime how long a one-time login code can be spent (default 5 min)
 * @param loginAttempts     login attempts per source address (default 1/s, burst 10)
 * @param maxRequestBytes   a request's body at most (default 16 KiB)
 * @param maxHeaderBytes    a request's head at most (default 8 KiB)
 * @param requestDeadline   a whole request must arrive within this, from the connection or the previous answer (default 10 s):
 *                          a trickling client cannot extend it, and an idle kept-alive connection closes after it
 * @param maxConnections    open connections at most (default 256); a newcomer beyond takes the place of the oldest still waiting for its request
 * @param liveStreamsPerUser live streams one user may hold at once (default 2)
 * @param liveLinesPerSecond requests a live stream sends per second at most; the rest are counted as dropped (default 2,000)
 * @param liveMaxDuration   a live stream ends by itself after this (default 10 min)
 */
public record DashboardConfig(HostPort listen, Set<String> allowedHosts, boolean secureCookies, Duration sessionIdle, Duration sessionLifetime,
                              int maxSessions, Duration loginCodeLifetime, RateLimit loginAttempts, int maxRequestBytes, int maxHeaderBytes,
                              Duration requestDeadline, int maxConnections,
                              int liveStreamsPerUser, int liveLinesPerSecond, Duration liveMaxDuration) {

    /** Host names every dashboard accepts: it is reached on loopback or through a port-forward. */
    public static final List<String> LOOPBACK_HOSTS = List.of("localhost", "127.0.0.1", "[::1]");

    public DashboardConfig {
        requireNonNull(listen, "listen");
        allowedHosts = Set.copyOf(allowedHosts);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Whether {@code host} (a Host header's name, without port) is one this dashboard answers to. */
    boolean allowsHost(String host) {
        return allowedHosts.contains(host.toLowerCase(Locale.ROOT));
    }

    public static final class Builder {
        private HostPort listen = new HostPort("127.0.0.1", 0);
        private final Set<String> allowedHosts = new LinkedHashSet<>(LOOPBACK_HOSTS);
        private boolean secureCookies;
        private Duration sessionIdle = Duration.ofMinutes(30);
        private Duration sessionLifetime = Duration.ofHours(12);
        private int maxSessions = 1_000;
        private Duration loginCodeLifetime = Duration.ofMinutes(5);
        private RateLimit loginAttempts = new RateLimit(1, 10);
        private int maxRequestBytes = 16 * 1024;
        private int maxHeaderBytes = 8 * 1024;
        private Duration requestDeadline = Duration.ofSeconds(10);
        private int maxConnections = 256;
        private int liveStreamsPerUser = 2;
        private int liveLinesPerSecond = 2_000;
        private Duration liveMaxDuration = Duration.ofMinutes(10);

        public Builder listen(HostPort listen) {
            this.listen = listen;
            return this;
        }

        /** Also answer to these Host names (for example the Service's DNS names). */
        public Builder allowHosts(List<String> hosts) {
            hosts.forEach(h -> allowedHosts.add(h.toLowerCase(Locale.ROOT)));
            return this;
        }

        public Builder secureCookies(boolean secure) {
            this.secureCookies = secure;
            return this;
        }

        public Builder sessions(Duration idle, Duration lifetime, int max) {
            this.sessionIdle = idle;
            this.sessionLifetime = lifetime;
            this.maxSessions = max;
            return this;
        }

        public Builder loginCodeLifetime(Duration lifetime) {
            this.loginCodeLifetime = lifetime;
            return this;
        }

        public Builder loginAttempts(RateLimit limit) {
            this.loginAttempts = limit;
            return this;
        }

        public Builder requestLimits(int maxHeaderBytes, int maxRequestBytes, Duration deadline, int maxConnections) {
            this.maxHeaderBytes = maxHeaderBytes;
            this.maxRequestBytes = maxRequestBytes;
            this.requestDeadline = deadline;
            this.maxConnections = maxConnections;
            return this;
        }

        public Builder live(int streamsPerUser, int linesPerSecond, Duration maxDuration) {
            this.liveStreamsPerUser = streamsPerUser;
            this.liveLinesPerSecond = linesPerSecond;
            this.liveMaxDuration = maxDuration;
            return this;
        }

        public DashboardConfig build() {
            return new DashboardConfig(listen, allowedHosts, secureCookies, sessionIdle, sessionLifetime, maxSessions, loginCodeLifetime, loginAttempts,
                    maxRequestBytes, maxHeaderBytes, requestDeadline, maxConnections, liveStreamsPerUser,
                    liveLinesPerSecond, liveMaxDuration);
        }
    }
}
