package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.secrets.RepoSecrets;
import dev.microvm.orchestrator.secrets.Secret;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.Callable;

/** Secrets the host grants to one repository's tasks; values are read from stdin and never printed. */
@Command(name = "secret", description = "Grant, list or remove secrets for a repository's setup (values are read from stdin, never shown).",
        subcommands = {SecretCommand.Set.class, SecretCommand.ListGrants.class, SecretCommand.Remove.class})
final class SecretCommand implements Runnable {

    @Override
    public void run() {
        throw new IllegalArgumentException("say set, list or rm (microvm-orchestrator secret --help)");
    }

    @Command(name = "set", description = "Grant secret NAME to the repository's tasks: its value is read from stdin.")
    static final class Set implements Callable<Integer> {
        @Mixin StateOptions state;
        @Parameters(paramLabel = "NAME", description = "The name setup sees it under (letters, digits, '_')") String name;
        @Option(names = "--repo", required = true, description = "The repository alias it is granted to") String repo;
        @Option(names = "--agent", description = "Release it to the agent's environment as well, not only to setup") boolean agent;

        @Override
        public Integer call() throws IOException {
            RepoRegistry registry = new RepoRegistry(state.paths(), Clock.systemUTC());
            registry.resolve(repo);
            String value = readValue(System.in);
            new RepoSecrets(state.paths()).set(repo, name, Secret.of(value), agent);
            System.out.println("Secret " + name + " granted to repository '" + repo + "' (setup" + (agent ? " and the agent" : " only") + ")");
            return 0;
        }
    }

    @Command(name = "list", description = "Show secret names and their grants (never values).")
    static final class ListGrants implements Callable<Integer> {
        @Mixin StateOptions state;

        @Override
        public Integer call() {
            Map<String, Map<String, Boolean>> all = new RepoSecrets(state.paths()).list();
            if (all.isEmpty()) System.out.println("No secrets granted. Grant one with: microvm-orchestrator secret set NAME --repo ALIAS");
            all.forEach((repo, names) -> names.forEach((name, agent) ->
                    System.out.println(repo + "\t" + name + "\t" + (agent ? "setup+agent" : "setup"))));
            return 0;
        }
    }

    @Command(name = "rm", description = "Remove secret NAME from the repository.")
    static final class Remove implements Callable<Integer> {
        @Mixin StateOptions state;
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--repo", required = true, description = "The repository alias") String repo;

        @Override
        public Integer call() {
            RepoRegistry.validateAlias(repo);
            if (!new RepoSecrets(state.paths()).remove(repo, name)) {
                throw new IllegalArgumentException("repository '" + repo + "' has no secret " + name + " (see: microvm-orchestrator secret list)");
            }
            System.out.println("Secret " + name + " removed from repository '" + repo + "'");
            return 0;
        }
    }

    /** The value as given on stdin, one trailing newline dropped (echo VALUE | ... and a here-string both work). */
    static String readValue(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        for (int n; (n = in.read(buf)) >= 0; ) {
            b.write(buf, 0, n);
            if (b.size() > 64 * 1024) throw new IllegalArgumentException("the secret's value on stdin is larger than 64 KiB");
        }
        String v = b.toString(StandardCharsets.UTF_8);
        if (v.endsWith("\n")) v = v.substring(0, v.length() - 1);
        if (v.endsWith("\r")) v = v.substring(0, v.length() - 1);
        return v;
    }
}
