package dev.trellis.proxy.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class HostResolverTest {

    private final AtomicLong now = new AtomicLong();
    private final AtomicInteger lookups = new AtomicInteger();

    private HostResolver resolver(HostResolver.Lookup lookup, int maxEntries, int maxLookups, int maxWaiting) {
        return new HostResolver(name -> {
            lookups.incrementAndGet();
            return lookup.addresses(name);
        }, Duration.ofSeconds(30), Duration.ofSeconds(5), maxEntries, maxLookups, maxWaiting, now::get);
    }

    @Test
    void answersAreCachedForTheirTtlAndFailuresForAShorterOne() throws Exception {
        try (HostResolver resolver = resolver(name -> {
            if (name.equals("gone.test")) {
                throw new UnknownHostException(name);
            }
            return new InetAddress[] {InetAddress.getByName("10.0.0.1")};
        }, 100, 2, 10)) {
            assertThat(resolver.resolve("API.Example.TEST.").get(5, TimeUnit.SECONDS)).containsExactly(InetAddress.getByName("10.0.0.1"));
            assertThat(resolver.resolve("api.example.test").get(5, TimeUnit.SECONDS)).hasSize(1);
            assertThat(lookups).hasValue(1);
            now.addAndGet(Duration.ofSeconds(31).toNanos());
            resolver.resolve("api.example.test").get(5, TimeUnit.SECONDS);
            assertThat(lookups).hasValue(2);

            assertThatThrownBy(() -> resolver.resolve("gone.test").get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(UnknownHostException.class);
            assertThatThrownBy(() -> resolver.resolve("gone.test").get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(UnknownHostException.class);
            assertThat(lookups).hasValue(3);
            now.addAndGet(Duration.ofSeconds(6).toNanos());
            assertThatThrownBy(() -> resolver.resolve("gone.test").get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(UnknownHostException.class);
            assertThat(lookups).hasValue(4);
        }
    }

    @Test
    void whatIsNotAHostNameIsNeverLookedUp() {
        try (HostResolver resolver = resolver(name -> new InetAddress[0], 100, 2, 10)) {
            for (String bad : new String[] {"a b.test", "x".repeat(300), "evil.test\r\nHost: other", ""}) {
                assertThatThrownBy(() -> resolver.resolve(bad).get(5, TimeUnit.SECONDS)).hasMessageContaining("not a host name");
            }
            assertThat(lookups).hasValue(0);
        }
    }

    @Test
    void aFloodOfNewNamesFailsClosedInsteadOfQueueingWithoutEnd() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try (HostResolver resolver = resolver(name -> {
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return new InetAddress[] {InetAddress.getByName("10.0.0.2")};
        }, 1000, 1, 2)) {
            var first = resolver.resolve("a0.test");
            var second = resolver.resolve("a1.test");
            var third = resolver.resolve("a2.test");
            var fourth = resolver.resolve("a3.test");
            assertThatThrownBy(() -> fourth.get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class).hasMessageContaining("resolver busy");
            release.countDown();
            assertThat(java.util.List.of(first.get(5, TimeUnit.SECONDS), second.get(5, TimeUnit.SECONDS), third.get(5, TimeUnit.SECONDS))).containsOnly(Set.of(InetAddress.getByName("10.0.0.2")));
        }
    }

    @Test
    void theCacheStaysBounded() throws Exception {
        try (HostResolver resolver = resolver(name -> new InetAddress[] {InetAddress.getByName("10.0.0.3")}, 10, 2, 100)) {
            for (int i = 0; i < 50; i++) {
                resolver.resolve("n" + i + ".test").get(5, TimeUnit.SECONDS);
            }
            // Bounded: an early name was dropped and is looked up again.
            resolver.resolve("n0.test").get(5, TimeUnit.SECONDS);
            assertThat(lookups).hasValue(51);
        }
    }
}
