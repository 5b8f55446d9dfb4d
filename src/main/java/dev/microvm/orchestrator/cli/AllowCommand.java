package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.config.Environment;
import dev.microvm.orchestrator.config.HostEnvironments;
import dev.microvm.orchestrator.config.RepoRegistry;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "allow", description = "Register a git repository so tasks may run on it.")
final class AllowCommand implements Callable<Integer> {

    @Mixin StateOptions state;

    @Parameters(arity = "0..1", paramLabel = "PATH", description = "Repository path (default: current directory)")
    Path path;

    @Option(names = "--alias", description = "Name to use in run_task (default: the directory name)")
    String alias;

    @Option(names = "--merge-strategy", description = "Default merge strategy for this repository: auto, branch or none")
    String mergeStrategy;

    @Option(names = "--network", description = "Default guest network for this repository: full, allowlist, api-only or none")
    String network;

    @Option(names = "--allow-domain", description = "A domain this repository's tasks may reach under network allowlist "
            + "(exact, or *.suffix); repeat for more")
    List<String> allowDomains;

    @Option(names = "--environment", paramLabel = "FILE", description = "An environment file (the keys of .microvm/environment.json) "
            + "kept in the state directory for this repository; it wins over the repository's own file")
    Path environment;

    @Override
    public Integer call() {
        Path repo = path == null ? Path.of("").toAbsolutePath() : path;
        RepoRegistry registry = new RepoRegistry(state.paths(), Clock.systemUTC());
        JsonObject defaults = new JsonObject();
        if (mergeStrategy != null) defaults.put("merge_strategy", mergeStrategy.toLowerCase(Locale.ROOT));
        if (network != null) defaults.put("network", network);
        if (allowDomains != null && !allowDomains.isEmpty()) defaults.put("allowed_domains", new JsonArray(allowDomains));
        // refused before anything is registered
        RepoRegistry.checkDefaults(defaults, alias != null ? alias : String.valueOf(repo.toAbsolutePath().normalize().getFileName()));
        if (environment != null) Environment.parse(readEnvironment(), environment.toString()); // refused before anything is registered
        String registered = registry.allow(repo, alias);
        if (!defaults.isEmpty()) registry.setDefaults(registered, defaults);
        if (environment != null) {
            new HostEnvironments(state.paths()).set(registered, environment);
            System.out.println("Environment of '" + registered + "' set from " + environment + " (it wins over " + Environment.FILE + ")");
        }
        System.out.println("Registered '" + registered + "' -> " + registry.resolve(registered).path());
        return 0;
    }

    private String readEnvironment() {
        try {
            return java.nio.file.Files.readString(environment);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("cannot read the environment file " + environment + ": " + e.getMessage());
        }
    }
}
