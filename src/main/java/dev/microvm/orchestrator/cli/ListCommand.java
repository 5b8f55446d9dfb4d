package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.config.RepoRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.time.Clock;
import java.util.concurrent.Callable;

@Command(name = "list", description = "List registered repositories.")
final class ListCommand implements Callable<Integer> {

    @Mixin StateOptions state;

    @Override
    public Integer call() {
        var repos = new RepoRegistry(state.paths(), Clock.systemUTC()).list();
        if (repos.isEmpty()) {
            System.out.println("No repositories registered. Register one with: microvm-orchestrator allow PATH");
            return 0;
        }
        for (var r : repos) System.out.println(r.alias() + "\t" + r.path() + "\t" + r.added());
        return 0;
    }
}
