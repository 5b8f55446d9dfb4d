package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.util.ProcessRunner;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * {@code microvm-orchestrator setup-token}: runs {@code claude setup-token} (which signs in with
 * the user's Claude subscription and prints a long-lived OAuth token), takes the token out of its
 * output and saves it 0600 to {@code <state>/secrets/token}, where {@link Credentials} finds it.
 *
 * <p>The user sees the child's output as it comes (with the token masked) and types into its
 * standard input, because signing in may ask for a code pasted from the browser.
 */
public final class SetupToken {

    public static final List<String> DEFAULT_COMMAND = List.of("claude", "setup-token");
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(15);

    /** What was saved: the file and the kind of token found (never the token itself). */
    public record Result(Path tokenFile, CredentialKind kind) {}

    private final List<String> command;
    private final Path tokenFile;
    private final OutputStream echo;
    private final ProcessBuilder.Redirect stdin;
    private final Duration timeout;
    private final Map<String, String> extraEnv;

    /**
     * @param command   the command to run, normally {@link #DEFAULT_COMMAND}
     * @param tokenFile where to save the token
     * @param echo      receives the child's output with the token masked (the CLI passes stderr or stdout)
     * @param stdin     the child's standard input; the CLI passes {@code Redirect.INHERIT}
     * @param timeout   how long signing in may take
     * @param extraEnv  added to the child's environment
     */
    public SetupToken(List<String> command, Path tokenFile, OutputStream echo, ProcessBuilder.Redirect stdin,
                      Duration timeout, Map<String, String> extraEnv) {
        this.command = List.copyOf(command);
        this.tokenFile = tokenFile;
        this.echo = echo;
        this.stdin = stdin;
        this.timeout = timeout;
        this.extraEnv = Map.copyOf(extraEnv);
    }

    /** The CLI's setup: {@code claude setup-token}, interactive, saving into the state directory. */
    public static SetupToken forState(StatePaths paths, OutputStream echo) {
        return new SetupToken(DEFAULT_COMMAND, Credentials.tokenFile(paths), echo, ProcessBuilder.Redirect.INHERIT,
                DEFAULT_TIMEOUT, Map.of());
    }

    public Result run() throws SetupTokenException {
        String output = runCommand();
        Secret token = TokenExtractor.extract(output).map(Secret::of).orElseThrow(() -> new SetupTokenException(
                "Could not find a token in the output of '" + String.join(" ", command) + "' (expected one starting with "
                        + "'sk-ant-'). Run it yourself, copy the token and set CLAUDE_CODE_OAUTH_TOKEN, or try again."));
        Redactor.global().register(token);
        try {
            SecretFiles.writeAtomically(tokenFile, token);
        } catch (IOException e) {
            throw new SetupTokenException("Could not save the token to " + tokenFile + ": " + e.getMessage(), e);
        }
        return new Result(tokenFile, Credentials.kindOf(token));
    }

    /** Runs the command, echoing its output while keeping all of it for extraction. */
    private String runCommand() throws SetupTokenException {
        TokenMaskingEcho masking = new TokenMaskingEcho(echo);
        ProcessRunner.Result result;
        try {
            result = ProcessRunner.of(command).input(stdin).environment(extraEnv).timeout(timeout)
                    .outputLimit(Integer.MAX_VALUE).onOutput(chunk -> echo(() -> masking.accept(chunk))).run();
        } catch (ProcessRunner.TimeoutException e) {
            throw new SetupTokenException("'" + String.join(" ", command) + "' did not finish within "
                    + Math.max(1, timeout.toSeconds()) + " seconds; try again.", e);
        } catch (IOException e) {
            if (Thread.currentThread().isInterrupted()) {
                throw new SetupTokenException("interrupted while waiting for '" + String.join(" ", command) + "'", e);
            }
            throw new SetupTokenException("Cannot run '" + command.getFirst() + "': " + e.getMessage()
                    + ". Install Claude Code first (npm install -g @anthropic-ai/claude-code) and make sure 'claude' is on the PATH.", e);
        }
        try {
            masking.close();
        } catch (IOException ignored) {
            // the echo broke earlier; the capture is complete regardless
        }
        if (result.exitCode() != 0) {
            throw new SetupTokenException("'" + String.join(" ", command) + "' failed with exit code " + result.exitCode()
                    + "; see its output above.");
        }
        return result.output();
    }

    private interface EchoStep {
        void run() throws IOException;
    }

    /** A broken echo must not stop the capture (the runner drops a listener that throws). */
    private static void echo(EchoStep step) {
        try {
            step.run();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
