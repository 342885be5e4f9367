package dev.trellis.cli;

import dev.trellis.core.net.Cidr;
import dev.trellis.core.sidecar.ProxyPorts;
import dev.trellis.init.InitConfig;
import dev.trellis.init.ProxyInit;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code trellis init}: proxy-init, the pod's iptables rules (run by the injector's init container). */
@Command(mixinStandardHelpOptions = true, name = "init", description = {
        "Redirect the pod's TCP through its proxy with iptables (IPv4 and IPv6): inbound to the inbound port, outbound to the outbound port,",
        "except the proxy's own traffic (by uid), loopback, and the skipped ports and networks. Idempotent. Needs NET_ADMIN and NET_RAW."})
final class InitCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--inbound-port", defaultValue = "" + ProxyPorts.INBOUND, description = "The proxy's inbound port (default: ${DEFAULT-VALUE}).")
    int inboundPort;

    @Option(names = "--outbound-port", defaultValue = "" + ProxyPorts.OUTBOUND, description = "The proxy's outbound port (default: ${DEFAULT-VALUE}).")
    int outboundPort;

    @Option(names = "--proxy-uid", defaultValue = "" + ProxyPorts.UID, description = "The proxy's uid, whose traffic is never redirected (default: ${DEFAULT-VALUE}).")
    int proxyUid;

    @Option(names = "--skip-inbound-ports", split = ",", paramLabel = "PORT", description = "Inbound ports not redirected (the proxy's 4190-4192 never are).")
    List<Integer> skipInboundPorts = List.of();

    @Option(names = "--skip-outbound-ports", split = ",", paramLabel = "PORT", description = "Outbound destination ports not redirected.")
    List<Integer> skipOutboundPorts = List.of();

    @Option(names = "--skip-outbound-subnets", split = ",", paramLabel = "CIDR", description = "Outbound destination networks not redirected.")
    List<String> skipOutboundSubnets = List.of();

    @Option(names = "--ipv6", defaultValue = "true", arity = "1", description = "Also write ip6tables rules (default: ${DEFAULT-VALUE}); skipped where the kernel has no IPv6.")
    boolean ipv6;

    @Option(names = "--iptables-mode", defaultValue = "auto", description = "auto, nft or legacy (default: ${DEFAULT-VALUE}: nft unless only legacy tables hold rules).")
    String mode;

    @Option(names = "--dry-run", description = "Print the rules instead of writing them.")
    boolean dryRun;

    @Option(names = "--cleanup", description = "Remove the rules and chains instead.")
    boolean cleanup;

    @Override
    public Integer call() throws Exception {
        InitConfig config = InitConfig.builder()
                .inboundPort(inboundPort).outboundPort(outboundPort).proxyUid(proxyUid)
                .skipInboundPorts(Set.copyOf(skipInboundPorts)).skipOutboundPorts(Set.copyOf(skipOutboundPorts))
                .skipOutboundSubnets(skipOutboundSubnets.stream().map(text -> Cidr.parse(text.strip())
                        .orElseThrow(() -> new IllegalArgumentException("init: --skip-outbound-subnets: '" + text + "' is not a CIDR such as 10.0.0.0/8"))).toList())
                .ipv6(ipv6)
                .backend(backend())
                .build();
        var out = spec.commandLine().getOut();
        if (dryRun) {
            out.print(ProxyInit.dryRun(config));
            return 0;
        }
        ProxyInit init = new ProxyInit(ProxyInit.Commands.system());
        if (cleanup) {
            init.cleanup(config);
            out.println("init: removed the Trellis chains");
            return 0;
        }
        for (ProxyInit.FamilyResult result : init.apply(config)) {
            out.println("init: " + result.family() + " (" + result.backend() + ")" + (result.changedJumps() ? "" : ": already in place, chains rewritten") + ":");
            out.print(result.rules());
        }
        return 0;
    }

    private InitConfig.Backend backend() {
        try {
            return InitConfig.Backend.valueOf(mode.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("init: --iptables-mode '" + mode + "' is not auto, nft or legacy");
        }
    }
}
