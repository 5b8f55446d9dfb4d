package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.config.StatePaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CredentialsTest {

    @TempDir Path state;
    private final List<String> warnings = new ArrayList<>();

    private Credentials credentials(Map<String, String> env) {
        return new Credentials(env, new StatePaths(state), warnings::add);
    }

    private Path writeTokenFile(String content, String perms) throws Exception {
        Path file = Credentials.tokenFile(new StatePaths(state));
        Files.createDirectories(file.getParent());
        Files.writeString(file, content);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(perms));
        return file;
    }

    @Test
    void apiKeyFromTheEnvironmentComesFirst() throws Exception {
        writeTokenFile("sk-ant-oat01-fromfile\n", "rw-------");
        Credential c = credentials(Map.of("ANTHROPIC_API_KEY", "sk-ant-api03-env", "CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat01-env")).load();
        assertThat(c.kind()).isEqualTo(CredentialKind.API_KEY);
        assertThat(c.secret().reveal()).isEqualTo("sk-ant-api03-env");
        assertThat(c.source()).contains("ANTHROPIC_API_KEY").doesNotContain("sk-ant");
    }

    @Test
    void oauthTokenFromTheEnvironmentComesBeforeTheFile() throws Exception {
        writeTokenFile("sk-ant-oat01-fromfile\n", "rw-------");
        Credential c = credentials(Map.of("ANTHROPIC_API_KEY", "  ", "CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat01-env")).load();
        assertThat(c.kind()).isEqualTo(CredentialKind.OAUTH);
        assertThat(c.secret().reveal()).isEqualTo("sk-ant-oat01-env");
    }

    @Test
    void tokenFileIsReadWithoutWarningWhenPrivate() throws Exception {
        writeTokenFile("sk-ant-oat01-fromfile\n", "rw-------");
        Credential c = credentials(Map.of()).load();
        assertThat(c.kind()).isEqualTo(CredentialKind.OAUTH);
        assertThat(c.secret().reveal()).isEqualTo("sk-ant-oat01-fromfile");
        assertThat(warnings).isEmpty();
    }

    @Test
    void anApiKeyInTheTokenFileIsRecognised() throws Exception {
        writeTokenFile("sk-ant-api03-fromfile", "rw-------");
        assertThat(credentials(Map.of()).load().kind()).isEqualTo(CredentialKind.API_KEY);
    }

    @Test
    void aTokenFileReadableByOthersIsUsedWithAWarning() throws Exception {
        Path file = writeTokenFile("sk-ant-oat01-fromfile\n", "rw-r--r--");
        credentials(Map.of()).load();
        assertThat(warnings).singleElement().asString().contains("rw-r--r--").contains("chmod 600 " + file)
                .doesNotContain("sk-ant-oat01");
    }

    @Test
    void aSymlinkedTokenFileIsRefused() throws Exception {
        Path elsewhere = state.resolve("elsewhere");
        Files.writeString(elsewhere, "sk-ant-oat01-elsewhere");
        Path file = Credentials.tokenFile(new StatePaths(state));
        Files.createDirectories(file.getParent());
        Files.createSymbolicLink(file, elsewhere);
        assertThatThrownBy(() -> credentials(Map.of()).load())
                .isInstanceOf(CredentialsException.class).hasMessageContaining("symbolic link");
    }

    @Test
    void anEmptyTokenFileIsAnError() throws Exception {
        writeTokenFile("\n", "rw-------");
        assertThatThrownBy(() -> credentials(Map.of()).load()).hasMessageContaining("empty");
    }

    @Test
    void withNothingConfiguredTheErrorSaysHowToFixIt() {
        assertThatThrownBy(() -> credentials(Map.of()).load())
                .isInstanceOf(CredentialsException.class)
                .hasMessageContaining("microvm-orchestrator setup-token")
                .hasMessageContaining("ANTHROPIC_API_KEY")
                .hasMessageContaining("CLAUDE_CODE_OAUTH_TOKEN");
    }

    @Test
    void loadedCredentialsAreMaskedInLogsFromThenOn() throws Exception {
        credentials(Map.of("ANTHROPIC_API_KEY", "plain-looking-key-6d1e0f")).load();
        assertThat(Redactor.global().redact("key plain-looking-key-6d1e0f")).isEqualTo("key [redacted]");
    }
}
