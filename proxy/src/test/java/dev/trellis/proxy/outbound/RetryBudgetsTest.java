package dev.trellis.proxy.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Retry budgets per authority are bounded: an app naming ever new hosts cannot grow them. */
class RetryBudgetsTest {

    @Test
    void eachAuthorityHasItsOwnBudgetUpToTheCapAndTheRestShareOne() {
        RetryBudgets budgets = RetryBudgets.defaults();
        RetryBudget web = budgets.of("web-svc.emojivoto.svc.cluster.local:80");
        assertThat(budgets.of("web-svc.emojivoto.svc.cluster.local:80")).isSameAs(web);
        for (int i = 0; i < 5 * RetryBudgets.MAX_AUTHORITIES; i++) {
            budgets.of("host-" + i + ".example:80");
        }
        assertThat(budgets.size()).isEqualTo(RetryBudgets.MAX_AUTHORITIES);
        assertThat(budgets.of("one-more.example:80")).as("beyond the cap: the shared budget")
                .isSameAs(budgets.of("and-another.example:80")).isNotSameAs(web);
        assertThat(budgets.of("web-svc.emojivoto.svc.cluster.local:80")).as("a known authority keeps its own").isSameAs(web);
    }
}
