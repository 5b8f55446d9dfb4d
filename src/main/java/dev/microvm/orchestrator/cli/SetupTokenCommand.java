package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.secrets.SetupToken;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;

@Command(name = "setup-token", description = "Run 'claude setup-token' and store the token (mode 0600) for the credential proxy.")
final class SetupTokenCommand implements Callable<Integer> {

    @Mixin StateOptions state;

    @Override
    public Integer call() throws Exception {
        SetupToken.Result result = SetupToken.forState(state.paths(), System.err).run();
        System.out.println("Saved " + result.kind() + " credential to " + result.tokenFile() + " (mode 0600).");
        return 0;
    }
}
