package dev.trellis.init;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trellis.core.net.Cidr;
import dev.trellis.testing.NetworkNamespace;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ProxyInitTest {

    private static final InitConfig CONFIG = InitConfig.builder()
            .skipInboundPorts(Set.of(22, 9000)).skipOutboundPorts(Set.of(5432))
            .skipOutboundSubnets(List.of(Cidr.parse("10.96.0.0/12").orElseThrow(), Cidr.parse("fd00::/8").orElseThrow()))
            .build();

    @Test
    void thePlanRedirectsTcpButNotTheProxyItsOwnListenersLoopbackOrWhatIsSkipped() {
        String v4 = RulePlan.restoreInput(CONFIG, false, true, true);
        assertThat(v4).contains("-A TRELLIS_INBOUND_REDIRECT -m comment --comment \"trellis/proxy-init\" -p tcp -j REDIRECT --to-ports 4143")
                .contains("-A TRELLIS_OUTBOUND_REDIRECT -m comment --comment \"trellis/proxy-init\" -p tcp -j REDIRECT --to-ports 4140")
                .contains("--uid-owner 2102 -j RETURN")
                .contains("-m mark --mark 0x539 -j RETURN")
                .contains("-o lo -j RETURN").contains("-d 127.0.0.0/8 -j RETURN")
                .contains("-p tcp --dport 22 -j RETURN").contains("-p tcp --dport 9000 -j RETURN")
                .contains("-p tcp --dport 4190 -j RETURN").contains("-p tcp --dport 4191 -j RETURN").contains("-p tcp --dport 4192 -j RETURN")
                .contains("-p tcp --dport 5432 -j RETURN")
                .contains("-d 10.96.0.0/12 -j RETURN").doesNotContain("fd00::")
                .contains("-A PREROUTING -m comment --comment \"trellis/proxy-init\" -j TRELLIS_INBOUND")
                .contains("-A OUTPUT -m comment --comment \"trellis/proxy-init\" -j TRELLIS_OUTBOUND")
                .endsWith("COMMIT\n");
        // Skips come before the catch-all redirect in each chain.
        assertThat(v4.indexOf("--dport 22 -j RETURN")).isLessThan(v4.indexOf("-j TRELLIS_INBOUND_REDIRECT"));
        assertThat(v4.indexOf("--uid-owner")).isLessThan(v4.indexOf("-j TRELLIS_OUTBOUND_REDIRECT"));
        String v6 = RulePlan.restoreInput(CONFIG, true, false, false);
        assertThat(v6).contains("-d ::1/128 -j RETURN").contains("-d fd00:0:0:0:0:0:0:0/8 -j RETURN").doesNotContain("10.96.0.0")
                .doesNotContain("-A PREROUTING").doesNotContain("-A OUTPUT");
        assertThat(ProxyInit.dryRun(CONFIG)).contains("# IPv4").contains("# IPv6");
    }

    @Test
    void aMissingNetAdminIsNamed() {
        ProxyInit init = new ProxyInit(new FakeCommands("iptables-nft-save", new ProxyInit.Commands.Result(4,
                "iptables-nft-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)")));
        assertThatThrownBy(() -> init.apply(InitConfig.builder().backend(InitConfig.Backend.NFT).build()))
                .hasMessageContaining("trellis init needs NET_ADMIN and NET_RAW")
                .hasMessageContaining("Permission denied");
    }

    @Test
    void anAskedForBackendThatIsNotInstalledIsNamed() {
        ProxyInit init = new ProxyInit(new FakeCommands("none", null) {
            @Override
            public boolean exists(String command) {
                return command.contains("nft");
            }
        });
        assertThatThrownBy(() -> init.apply(InitConfig.builder().backend(InitConfig.Backend.LEGACY).build()))
                .hasMessageContaining("--iptables-mode legacy asked, but iptables-legacy-restore is not installed");
    }

    @Test
    void inANetworkNamespaceTheRulesAreWrittenOnceHoweverOftenItRunsAndCleanupRemovesThem() throws Exception {
        assumeTrue(NetworkNamespace.available(), "needs root, ip and iptables");
        try (NetworkNamespace pod = NetworkNamespace.create("trlsinit" + ProcessHandle.current().pid() % 10000)) {
            ProxyInit init = new ProxyInit(inside(pod));
            InitConfig config = InitConfig.builder().backend(InitConfig.Backend.NFT).skipOutboundPorts(Set.of(5432)).build();
            List<ProxyInit.FamilyResult> first = init.apply(config);
            assertThat(first).extracting(ProxyInit.FamilyResult::family).contains("iptables");
            assertThat(first).allMatch(ProxyInit.FamilyResult::changedJumps);
            String once = pod.run("iptables-nft-save", "-t", "nat").replaceAll("(?m)^#.*$", "");
            assertThat(once).contains("-A TRELLIS_OUTBOUND -p tcp -m comment --comment \"trellis/proxy-init\" -m tcp --dport 5432 -j RETURN")
                    .contains("-A PREROUTING -m comment --comment \"trellis/proxy-init\" -j TRELLIS_INBOUND");

            List<ProxyInit.FamilyResult> second = init.apply(config);
            assertThat(second).noneMatch(ProxyInit.FamilyResult::changedJumps);
            assertThat(pod.run("iptables-nft-save", "-t", "nat").replaceAll("(?m)^#.*$", "")).isEqualTo(once);

            init.cleanup(config);
            assertThat(pod.run("iptables-nft-save", "-t", "nat")).doesNotContain("TRELLIS_");
            init.cleanup(config);
        }
    }

    /** The system's commands, run inside {@code pod}'s network namespace. */
    private static ProxyInit.Commands inside(NetworkNamespace pod) {
        ProxyInit.Commands system = ProxyInit.Commands.system();
        return new ProxyInit.Commands() {
            @Override
            public Result run(List<String> command, String input) throws IOException, InterruptedException {
                List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", pod.name()));
                full.addAll(command);
                return system.run(full, input);
            }

            @Override
            public boolean exists(String command) {
                return system.exists(command);
            }
        };
    }

    /** Answers {@code command} with {@code result} and everything else with success. */
    private static class FakeCommands implements ProxyInit.Commands {
        private final String command;
        private final Result result;

        FakeCommands(String command, Result result) {
            this.command = command;
            this.result = result;
        }

        @Override
        public Result run(List<String> run, String input) {
            return run.getFirst().equals(command) ? result : new Result(0, "");
        }

        @Override
        public boolean exists(String name) {
            return true;
        }
    }
}
