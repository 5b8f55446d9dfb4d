package dev.microvm.orchestrator.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Command-line entry point. In {@code mcp} mode stdout carries only MCP messages. */
@Command(name = "microvm-orchestrator", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Runs coding tasks in short-lived, hardware-isolated microVMs and merges their commits back.",
        subcommands = {AllowCommand.class, ListCommand.class, RemoveCommand.class, RunCommand.class, TasksCommand.class,
                ServeCommand.class, McpCommand.class, SetupTokenCommand.class, ClusterCertsCommand.class,
                SecretCommand.class})
public final class Main implements Runnable {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parse) -> {
            cmd.getErr().println("error: " + (ex.getMessage() == null ? ex.toString() : ex.getMessage()));
            return ex instanceof IllegalArgumentException || ex instanceof IllegalStateException ? 2 : 1;
        });
        return cl.execute(args);
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.err);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[]{"microvm-orchestrator " + (v == null ? "dev" : v)};
        }
    }
}
