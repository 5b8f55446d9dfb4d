package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.config.RepoRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.time.Clock;
import java.util.concurrent.Callable;

@Command(name = "remove", description = "Unregister a repository (the repository itself is not touched).")
final class RemoveCommand implements Callable<Integer> {

    @Mixin StateOptions state;

    @Parameters(paramLabel = "ALIAS")
    String alias;

    @Override
    public Integer call() {
        var removed = new RepoRegistry(state.paths(), Clock.systemUTC()).remove(alias);
        System.out.println("Removed '" + removed.alias() + "' (" + removed.path() + ")");
        return 0;
    }
}
