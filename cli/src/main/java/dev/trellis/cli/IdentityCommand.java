package dev.trellis.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code trellis identity …}: the mesh CA and the tools around it. */
@Command(mixinStandardHelpOptions = true, name = "identity",
        description = "The mesh certificate authority: create a PKI, run the CA, mint local tokens, get a certificate.",
        subcommands = {
                IdentityBootstrapCommand.class,
                IdentityServeCommand.class,
                IdentityTokenCommand.class,
                IdentityCertifyCommand.class,
                CommandLine.HelpCommand.class})
final class IdentityCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
