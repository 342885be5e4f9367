package dev.trellis.init;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Applies (or removes) {@link RulePlan}'s rules in this network namespace with {@code
 * iptables-restore --noflush} — one atomic transaction per family — after reading the
 * current rules with {@code iptables-save}, so that a second run (an init container may run
 * twice) changes nothing. Picks the nft or legacy backend; says plainly when it lacks
 * NET_ADMIN.
 */
public final class ProxyInit {

    /** The outcome of one family. */
    public record FamilyResult(String family, String backend, boolean changedJumps, String rules) {}

    /** Runs a command with input; here so tests can see exactly what would run. */
    public interface Commands {
        /** Exit code and combined output. */
        record Result(int exit, String output) {}

        Result run(List<String> command, String input) throws IOException, InterruptedException;

        boolean exists(String command);

        /** The real thing: {@code /usr/sbin} and {@code /sbin} programs, 30 s each. */
        static Commands system() {
            return new Commands() {
                @Override
                public Result run(List<String> command, String input) throws IOException, InterruptedException {
                    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
                    try (var in = process.getOutputStream()) {
                        in.write(input.getBytes(StandardCharsets.UTF_8));
                    }
                    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                    if (!process.waitFor(30, TimeUnit.SECONDS)) {
                        process.destroyForcibly();
                        throw new IOException("init: '" + String.join(" ", command) + "' did not finish in 30 s");
                    }
                    return new Result(process.exitValue(), output);
                }

                @Override
                public boolean exists(String command) {
                    return Files.isExecutable(Path.of("/usr/sbin", command)) || Files.isExecutable(Path.of("/sbin", command));
                }
            };
        }
    }

    private final Commands commands;

    public ProxyInit(Commands commands) {
        this.commands = commands;
    }

    /** The rules as they would be written on a namespace without any, per family (for {@code --dry-run}). */
    public static String dryRun(InitConfig config) {
        StringBuilder out = new StringBuilder("# IPv4: iptables-restore --noflush\n").append(RulePlan.restoreInput(config, false, true, true));
        if (config.ipv6()) {
            out.append("# IPv6: ip6tables-restore --noflush\n").append(RulePlan.restoreInput(config, true, true, true));
        }
        return out.toString();
    }

    /** Writes the rules; the same rules after a second run. */
    public List<FamilyResult> apply(InitConfig config) throws IOException, InterruptedException {
        String backend = backend(config.backend());
        List<FamilyResult> results = new ArrayList<>();
        for (boolean ipv6 : config.ipv6() ? List.of(false, true) : List.of(false)) {
            String family = ipv6 ? "ip6tables" : "iptables";
            String saved = save(family, backend);
            if (saved == null) {
                continue; // no IPv6 in this kernel: nothing to redirect there
            }
            boolean jumpIn = RulePlan.jumps(saved, "PREROUTING", RulePlan.INBOUND) == 0;
            boolean jumpOut = RulePlan.jumps(saved, "OUTPUT", RulePlan.OUTBOUND) == 0;
            String rules = RulePlan.restoreInput(config, ipv6, jumpIn, jumpOut);
            restore(family, backend, rules);
            results.add(new FamilyResult(family, backend, jumpIn || jumpOut, rules));
        }
        return results;
    }

    /** Removes the jumps and the chains, where they exist. */
    public void cleanup(InitConfig config) throws IOException, InterruptedException {
        String backend = backend(config.backend());
        for (boolean ipv6 : config.ipv6() ? List.of(false, true) : List.of(false)) {
            String family = ipv6 ? "ip6tables" : "iptables";
            String saved = save(family, backend);
            if (saved == null || !RulePlan.hasChain(saved, RulePlan.INBOUND)) {
                continue;
            }
            restore(family, backend, RulePlan.cleanupInput(RulePlan.jumps(saved, "PREROUTING", RulePlan.INBOUND),
                    RulePlan.jumps(saved, "OUTPUT", RulePlan.OUTBOUND)));
        }
    }

    /** nft unless asked otherwise or unless only the legacy tables hold rules already (mixing them breaks both). */
    String backend(InitConfig.Backend asked) throws IOException, InterruptedException {
        boolean nft = commands.exists("iptables-nft-restore");
        boolean legacy = commands.exists("iptables-legacy-restore");
        return switch (asked) {
            case NFT -> require(nft, "nft");
            case LEGACY -> require(legacy, "legacy");
            case AUTO -> {
                if (!nft && !legacy) {
                    throw new InitException("init: neither iptables-nft-restore nor iptables-legacy-restore is installed");
                }
                if (nft && legacy) {
                    boolean legacyInUse = ruleCount("iptables-legacy-save") > 0;
                    boolean nftInUse = ruleCount("iptables-nft-save") > 0;
                    yield legacyInUse && !nftInUse ? "legacy" : "nft";
                }
                yield nft ? "nft" : "legacy";
            }
        };
    }

    private String require(boolean present, String backend) {
        if (!present) {
            throw new InitException("init: --iptables-mode " + backend + " asked, but iptables-" + backend + "-restore is not installed");
        }
        return backend;
    }

    private int ruleCount(String saveCommand) throws IOException, InterruptedException {
        Commands.Result result = commands.run(List.of(saveCommand), "");
        return result.exit() != 0 ? 0 : (int) result.output().lines().filter(l -> l.startsWith("-A ")).count();
    }

    /** The nat table now, or null when this family's nat table does not exist in the kernel (no IPv6). */
    private String save(String family, String backend) throws IOException, InterruptedException {
        List<String> command = List.of(family + "-" + backend + "-save", "-t", "nat");
        Commands.Result result = commands.run(command, "");
        if (result.exit() != 0) {
            if (family.equals("ip6tables") && unsupported(result.output())) {
                return null;
            }
            throw failure(command, result);
        }
        return result.output();
    }

    private void restore(String family, String backend, String rules) throws IOException, InterruptedException {
        List<String> command = List.of(family + "-" + backend + "-restore", "--noflush", "--wait");
        Commands.Result result = commands.run(command, rules);
        if (result.exit() != 0) {
            throw failure(command, result);
        }
    }

    private static boolean unsupported(String output) {
        String lower = output.toLowerCase(Locale.ROOT);
        return lower.contains("address family not supported") || lower.contains("table does not exist");
    }

    private static InitException failure(List<String> command, Commands.Result result) {
        String output = result.output().strip();
        String lower = output.toLowerCase(Locale.ROOT);
        if (lower.contains("permission denied") || lower.contains("operation not permitted") || lower.contains("you must be root")) {
            return new InitException("init: " + command.getFirst() + " was refused (" + output.lines().findFirst().orElse("") + "): trellis init needs "
                    + "NET_ADMIN and NET_RAW in the pod's network namespace (the injector's proxy-init container adds exactly these)");
        }
        return new InitException("init: '" + String.join(" ", command) + "' failed with exit " + result.exit() + ": " + output);
    }

    /** A failure that names what failed and what to do. */
    public static final class InitException extends RuntimeException {
        InitException(String message) {
            super(message);
        }
    }
}
