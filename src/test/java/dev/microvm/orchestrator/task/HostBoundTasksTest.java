package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.config.HostEnvironments;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.secrets.RepoSecrets;
import dev.microvm.orchestrator.secrets.Secret;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Cluster: a task whose repository holds host secrets or a host environment never leaves this host. */
class HostBoundTasksTest {

    @TempDir Path tmp;

    @Test
    void tasksOfARepositoryWithHostSecretsOrAHostEnvironmentStayHere() throws Exception {
        StatePaths paths = new StatePaths(tmp.resolve("state"));
        assertThat(TaskIntake.staysHere(paths, "plain")).isFalse();
        new RepoSecrets(paths).set("secretive", "NPM_TOKEN", Secret.of("npm-value-0123456789"), false);
        assertThat(TaskIntake.staysHere(paths, "secretive")).isTrue();
        new HostEnvironments(paths).set("configured", Files.writeString(tmp.resolve("env.json"), "{\"setup\": [\"make\"]}"));
        assertThat(TaskIntake.staysHere(paths, "configured")).isTrue();
        assertThat(TaskIntake.staysHere(paths, "plain")).isFalse();
        new RepoSecrets(paths).remove("secretive", "NPM_TOKEN");
        assertThat(TaskIntake.staysHere(paths, "secretive")).isFalse();
    }
}
