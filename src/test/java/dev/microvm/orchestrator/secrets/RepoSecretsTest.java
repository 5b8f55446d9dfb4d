package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.config.StatePaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RepoSecretsTest {

    @TempDir Path tmp;

    @Test
    void grantsAreKeptPrivatePerRepositoryAndListedWithoutValues() throws Exception {
        StatePaths paths = new StatePaths(tmp.resolve("state"));
        RepoSecrets secrets = new RepoSecrets(paths);
        secrets.set("app", "NPM_TOKEN", Secret.of("npm-value-0123456789"), false);
        secrets.set("app", "DEPLOY_KEY", Secret.of("deploy-value-0123456789"), true);
        secrets.set("other", "NPM_TOKEN", Secret.of("other-value-0123456789"), false);

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(paths.repoSecrets("app")))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(paths.repoSecretsDir()))).isEqualTo("rwx------");
        assertThat(Files.exists(paths.secretsDir())).as("apart from the Claude credential").isFalse();
        assertThat(secrets.list()).isEqualTo(Map.of("app", Map.of("NPM_TOKEN", false, "DEPLOY_KEY", true), "other", Map.of("NPM_TOKEN", false)));
        assertThat(secrets.list().toString()).doesNotContain("value");

        List<RepoSecrets.Grant> released = secrets.release("app", List.of("NPM_TOKEN", "DEPLOY_KEY"));
        assertThat(released).extracting(g -> g.value().reveal()).containsExactly("npm-value-0123456789", "deploy-value-0123456789");
        assertThat(released).extracting(RepoSecrets.Grant::agent).containsExactly(false, true);
        assertThat(Redactor.global().redact("x npm-value-0123456789 y")).isEqualTo("x " + Redactor.MASK + " y");
        assertThat(secrets.any("app")).isTrue();
        assertThat(secrets.any("none")).isFalse();

        assertThat(secrets.remove("app", "NPM_TOKEN")).isTrue();
        assertThat(secrets.remove("app", "NPM_TOKEN")).isFalse();
        assertThat(secrets.list().get("app")).containsOnlyKeys("DEPLOY_KEY");
    }

    @Test
    void aSecretTheHostDidNotGrantToThisRepositoryIsRefusedByName() {
        RepoSecrets secrets = new RepoSecrets(new StatePaths(tmp.resolve("state")));
        secrets.set("other", "NPM_TOKEN", Secret.of("other-value-0123456789"), false);
        assertThatThrownBy(() -> secrets.release("app", List.of("NPM_TOKEN", "PYPI_TOKEN")))
                .hasMessageContaining("NPM_TOKEN, PYPI_TOKEN").hasMessageContaining("repository app")
                .hasMessageContaining("secret set NPM_TOKEN --repo app").hasMessageNotContaining("other-value");
        assertThat(secrets.release("app", List.of())).isEmpty();
        assertThatThrownBy(() -> secrets.set("app", "bad-name", Secret.of("v"), false)).hasMessageContaining("bad-name");
        assertThatThrownBy(() -> secrets.set("app", "EMPTY", Secret.of(""), false)).hasMessageContaining("empty");
    }
}
