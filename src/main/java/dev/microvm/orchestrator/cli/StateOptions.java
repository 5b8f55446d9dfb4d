package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.config.StatePaths;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The state directory option shared by every command. */
final class StateOptions {

    @Option(names = "--state-dir", paramLabel = "DIR",
            description = "State directory (default: $MICROVM_ORCHESTRATOR_HOME or ~/.microvm-orchestrator)")
    Path stateDir;

    StatePaths paths() {
        if (stateDir != null) return new StatePaths(stateDir);
        String env = System.getenv("MICROVM_ORCHESTRATOR_HOME");
        if (env != null && !env.isBlank()) return new StatePaths(Path.of(env));
        return new StatePaths(Path.of(System.getProperty("user.home"), ".microvm-orchestrator"));
    }
}
