package dev.trellis.proxy.outbound;

import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * One {@link RetryBudget} per authority, for at most {@value #MAX_AUTHORITIES} authorities — as
 * many as discovery resolves; the authorities beyond share one budget, so that an app naming
 * ever new hosts cannot grow the proxy's memory. Thread-safe; one per proxy.
 */
final class RetryBudgets {

    static final int MAX_AUTHORITIES = 1000;

    private final ConcurrentHashMap<String, RetryBudget> byAuthority = new ConcurrentHashMap<>();
    private final Supplier<RetryBudget> fresh;
    private final RetryBudget overflow;

    RetryBudgets(Supplier<RetryBudget> fresh) {
        this.fresh = fresh;
        this.overflow = fresh.get();
    }

    static RetryBudgets defaults() {
        return new RetryBudgets(RetryBudget::defaults);
    }

    /** {@code authority}'s budget, or the shared one once {@value #MAX_AUTHORITIES} authorities have their own. */
    RetryBudget of(String authority) {
        RetryBudget known = byAuthority.get(authority);
        if (known != null) {
            return known;
        }
        if (byAuthority.size() >= MAX_AUTHORITIES) {
            return overflow;
        }
        return byAuthority.computeIfAbsent(authority, a -> fresh.get());
    }

    /** Authorities with a budget of their own. */
    int size() {
        return byAuthority.size();
    }
}
