package dev.microvm.orchestrator.secrets;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Runs a stand-in {@code claude} script that behaves like {@code claude setup-token}. */
class SetupTokenTest {

    @TempDir Path tmp;
    private Path tokenFile;
    private final ByteArrayOutputStream screen = new ByteArrayOutputStream();

    @BeforeEach
    void setUp() {
        tokenFile = tmp.resolve("state/secrets/token");
    }

    private Path fakeClaude(String body) throws Exception {
        Path script = tmp.resolve("claude");
        Files.writeString(script, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        return script;
    }

    private SetupToken setup(Path script, Path stdinFile) {
        return new SetupToken(List.of(script.toString(), "setup-token"), tokenFile, screen,
                ProcessBuilder.Redirect.from(stdinFile.toFile()), Duration.ofSeconds(20), Map.of());
    }

    private Path emptyStdin() throws Exception {
        return Files.writeString(tmp.resolve("stdin"), "");
    }

    @Test
    void theTokenFromAnInteractiveRunIsSavedPrivatelyAndNeverShown() throws Exception {
        Path output = tmp.resolve("output.txt");
        Files.writeString(output, TokenExtractorTest.fixture("wrapped-80-crlf.txt"));
        Path stdin = Files.writeString(tmp.resolve("stdin"), "code-from-browser\n");
        Path script = fakeClaude("""
                [ "$1" = "setup-token" ] || { echo "unexpected arguments: $*" >&2; exit 64; }
                printf 'Paste code here if prompted > '
                read code
                [ "$code" = "code-from-browser" ] || { echo "no code" >&2; exit 65; }
                echo
                sleep 0.2
                cat '%s'
                """.formatted(output));

        SetupToken.Result result = setup(script, stdin).run();

        String token = TokenExtractorTest.expectedToken();
        assertThat(result.tokenFile()).isEqualTo(tokenFile);
        assertThat(result.kind()).isEqualTo(CredentialKind.OAUTH);
        assertThat(Files.readString(tokenFile)).isEqualTo(token + "\n");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile))).isEqualTo("rw-------");
        String shown = screen.toString(StandardCharsets.UTF_8);
        assertThat(shown).contains("Paste code here if prompted > ").contains("Store this token securely").contains("[redacted]");
        assertThat(shown).doesNotContain(token.substring(13, 40)).doesNotContain(token.substring(80));
        assertThat(result.toString()).doesNotContain(token.substring(13, 40));
    }

    @Test
    void theSavedTokenIsWhatCredentialsLoads() throws Exception {
        Path output = Files.writeString(tmp.resolve("output.txt"), TokenExtractorTest.fixture("boxed-wrapped.txt"));
        setup(fakeClaude("cat '" + output + "'"), emptyStdin()).run();
        var paths = new dev.microvm.orchestrator.config.StatePaths(tmp.resolve("state"));
        Credential c = new Credentials(Map.of(), paths, w -> { throw new AssertionError("unexpected warning: " + w); }).load();
        assertThat(c.secret().reveal()).isEqualTo(TokenExtractorTest.expectedToken());
        assertThat(c.kind()).isEqualTo(CredentialKind.OAUTH);
    }

    @Test
    void aFailingCommandLeavesAnExistingTokenUntouched() throws Exception {
        SecretFiles.writeAtomically(tokenFile, Secret.of("sk-ant-oat01-previous-token-kept"));
        assertThatThrownBy(() -> setup(fakeClaude("echo 'OAuth error: denied'; exit 3"), emptyStdin()).run())
                .isInstanceOf(SetupTokenException.class).hasMessageContaining("exit code 3");
        assertThat(Files.readString(tokenFile)).isEqualTo("sk-ant-oat01-previous-token-kept\n");
        assertThat(screen.toString(StandardCharsets.UTF_8)).contains("OAuth error: denied");
    }

    @Test
    void outputWithoutATokenIsAnErrorAndNothingIsSaved() throws Exception {
        Path output = Files.writeString(tmp.resolve("output.txt"), TokenExtractorTest.fixture("no-token.txt"));
        assertThatThrownBy(() -> setup(fakeClaude("cat '" + output + "'"), emptyStdin()).run())
                .isInstanceOf(SetupTokenException.class).hasMessageContaining("Could not find a token");
        assertThat(tokenFile).doesNotExist();
    }

    @Test
    void aMissingClaudeCommandSaysHowToInstallIt() throws Exception {
        SetupToken missing = new SetupToken(List.of(tmp.resolve("no-such-claude").toString(), "setup-token"), tokenFile, screen,
                ProcessBuilder.Redirect.from(emptyStdin().toFile()), Duration.ofSeconds(5), Map.of());
        assertThatThrownBy(missing::run).isInstanceOf(SetupTokenException.class)
                .hasMessageContaining("npm install -g @anthropic-ai/claude-code");
    }

    @Test
    void aHangingCommandIsStoppedAfterTheTimeout() throws Exception {
        SetupToken hanging = new SetupToken(List.of(fakeClaude("sleep 30").toString(), "setup-token"), tokenFile, screen,
                ProcessBuilder.Redirect.from(emptyStdin().toFile()), Duration.ofMillis(500), Map.of());
        long start = System.nanoTime();
        assertThatThrownBy(hanging::run).isInstanceOf(SetupTokenException.class).hasMessageContaining("did not finish");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }
}
