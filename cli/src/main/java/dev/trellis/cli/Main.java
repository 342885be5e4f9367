package dev.trellis.cli;

import dev.trellis.core.version.TrellisVersion;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/**
 * The entry point of the Trellis distribution: every component is a subcommand.
 *
 * <p>Expected failures (bad flags, unreadable files, refused requests) print one line,
 * {@code trellis: <what failed>}, and exit 1; usage errors exit 2.
 */
@Command(name = "trellis",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Trellis: a service mesh for Kubernetes.",
        subcommands = {VersionCommand.class, InstallCommand.class, CheckCommand.class, UninstallCommand.class, InitCommand.class, InjectCommand.class, UninjectCommand.class, InjectorCommand.class, AwaitCommand.class, IdentityCommand.class, ProxyCommand.class, NodeCommand.class, DestinationCommand.class, DemoCommand.class,
                VizCommand.class, CommandLine.HelpCommand.class})
public final class Main {

    private static final java.util.regex.Pattern ENV_VARIABLE = java.util.regex.Pattern.compile("TRELLIS_[A-Z_]+");

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line and returns the exit code; used by tests too. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine sidecarCommand = args.length == 0 ? null : switch (args[0]) {
            case "proxy" -> sidecarCommandLine(new ProxyCommand(), "proxy", out, err);
            case "await" -> sidecarCommandLine(new AwaitCommand(), "await", out, err);
            default -> null;
        };
        boolean sidecar = sidecarCommand != null;
        CommandLine commandLine = sidecar ? sidecarCommand : commandLine(out, err);
        try {
            return commandLine.execute(sidecar ? java.util.Arrays.copyOfRange(args, 1, args.length) : args);
        } finally {
            // Commands print with print(), not only println(): nothing may stay in the buffer.
            out.flush();
            err.flush();
        }
    }

    /** The command line with every converter and handler, ready to parse or execute (tests parse manifests' arguments with it). */
    static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        return configured(new CommandLine(new Main()), out, err);
    }

    /**
     * A command the proxy container runs ({@code trellis proxy}, and {@code trellis await} in its
     * postStart hook) alone, named as in the whole tree: a sidecar starts with every pod, and
     * building the models of all the other commands first (picocli reads every option of every
     * command when the tree is made) only delayed it; and the proxy image's class path holds
     * what these commands need, not the others' (cli/target/proxy-lib).
     */
    static CommandLine sidecarCommandLine(Object command, String name, PrintWriter out, PrintWriter err) {
        return configured(new CommandLine(command).setCommandName("trellis " + name), out, err);
    }

    private static CommandLine configured(CommandLine commandLine, PrintWriter out, PrintWriter err) {
        return commandLine
                .setOut(out)
                .setErr(err)
                .registerConverter(java.time.Duration.class, new Converters.DurationConverter())
                .registerConverter(dev.trellis.core.net.HostPort.class, dev.trellis.core.net.HostPort::parse)
                .setParameterExceptionHandler((exception, args1) -> {
                    CommandLine cmd = exception.getCommandLine();
                    String message = exception.getMessage();
                    // picocli checks required options before it reports unknown ones; the unknown flag is the real mistake.
                    if (!(exception instanceof CommandLine.UnmatchedArgumentException) && !cmd.getUnmatchedArguments().isEmpty()) {
                        message = "unknown option" + (cmd.getUnmatchedArguments().size() > 1 ? "s" : "") + ": "
                                + String.join(", ", cmd.getUnmatchedArguments().stream().map(a -> "'" + a + "'").toList());
                    }
                    if (exception.getArgSpec() instanceof CommandLine.Model.OptionSpec option) {
                        java.util.regex.Matcher variable = ENV_VARIABLE.matcher(String.join(" ", option.description()));
                        if (variable.find()) {
                            message += " (set by " + option.longestName() + " or " + variable.group() + ")";
                        }
                    }
                    cmd.getErr().println("trellis: " + message);
                    cmd.getErr().println("trellis: see '" + cmd.getCommandSpec().qualifiedName() + " --help'");
                    return 2;
                })
                .setExecutionExceptionHandler((exception, cmd, parseResult) -> {
                    cmd.getErr().println("trellis: " + describe(exception));
                    return 1;
                });
    }

    private static String describe(Throwable exception) {
        if (exception instanceof java.nio.file.NoSuchFileException e) {
            return "no such file: " + e.getFile();
        }
        if (exception instanceof java.nio.file.AccessDeniedException e) {
            return "permission denied: " + e.getFile();
        }
        if (exception instanceof java.nio.file.FileAlreadyExistsException e) {
            // Files.createDirectories says so of a file where a directory should be; others of a file they would not replace.
            return e.getFile() + " already exists" + (e.getReason() != null ? ": " + e.getReason() : "");
        }
        if (exception instanceof java.nio.file.NotDirectoryException e) {
            return "not a directory: " + e.getFile();
        }
        if (exception instanceof java.nio.file.FileSystemException e) {
            return e.getFile() + ": " + (e.getReason() != null ? e.getReason() : exception.getClass().getSimpleName());
        }
        String message = exception.getMessage();
        if (message == null || message.isBlank()) {
            return exception.toString();
        }
        return message;
    }

    /** Supplies {@code --version}. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"trellis " + TrellisVersion.current()};
        }
    }
}
