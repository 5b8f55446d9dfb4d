package dev.microvm.orchestrator.config;

import dev.microvm.orchestrator.task.TaskOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RepoRegistryTest {

    @TempDir Path tmp;

    private Path gitRepo(String name) throws Exception {
        Path p = tmp.resolve(name);
        Files.createDirectories(p.resolve(".git"));
        return p;
    }

    private RepoRegistry registry() {
        return new RepoRegistry(new StatePaths(tmp.resolve("state")), Clock.systemUTC());
    }

    @Test
    void aliasDefaultsToTheDirectoryNameAndResolvesToTheCanonicalPath() throws Exception {
        Path repo = gitRepo("myproject");
        assertThat(registry().allow(repo.resolve("."), null)).isEqualTo("myproject");
        assertThat(registry().resolve("myproject").path()).isEqualTo(repo.toRealPath());
    }

    @Test
    void clashingAliasForAnotherPathGetsANumberedAlias() throws Exception {
        Path a = gitRepo("one/app");
        Path b = gitRepo("two/app");
        assertThat(registry().allow(a, null)).isEqualTo("app");
        assertThat(registry().allow(b, null)).isEqualTo("app-2");
        assertThat(registry().allow(a, null)).isEqualTo("app");
        assertThat(registry().list()).hasSize(2);
    }

    @Test
    void nonGitPathIsRefusedWithAHint() throws Exception {
        Path plain = Files.createDirectories(tmp.resolve("plain"));
        assertThatThrownBy(() -> registry().allow(plain, null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a git repository").hasMessageContaining("git init");
        assertThatThrownBy(() -> registry().allow(tmp.resolve("missing"), null)).hasMessageContaining("does not exist");
    }

    @Test
    void unknownAliasNamesTheRegisterCommand() {
        assertThatThrownBy(() -> registry().resolve("nope")).isInstanceOf(RepoRegistry.UnknownRepoException.class)
                .hasMessageContaining("microvm-orchestrator allow");
        assertThatThrownBy(() -> registry().remove("nope")).hasMessageContaining("not registered");
    }

    @Test
    void hostileAliasesAreRefused() throws Exception {
        Path repo = gitRepo("r");
        for (String bad : new String[]{"../x", "/abs", "a b", "", "-flag", "x\u0000y", "a/b"}) {
            assertThatThrownBy(() -> registry().allow(repo, bad)).as(bad).hasMessageContaining("invalid repo alias");
        }
    }

    @Test
    void damagedRegistryFileIsReportedAndLeftAsItWas() throws Exception {
        StatePaths paths = new StatePaths(tmp.resolve("state"));
        Files.createDirectories(paths.root());
        Files.writeString(paths.reposFile(), "{\"repos\": {\"a\": ");
        Path repo = gitRepo("r");
        assertThatThrownBy(() -> registry().allow(repo, null)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("damaged");
        assertThat(Files.readString(paths.reposFile())).isEqualTo("{\"repos\": {\"a\": ");
    }

    @Test
    void perRepositoryDefaultsAreValidatedAndKept() throws Exception {
        Path repo = gitRepo("withdefaults");
        registry().allow(repo, "d");
        registry().setDefaults("d", new io.vertx.core.json.JsonObject().put("merge_strategy", "branch").put("network", "api-only"), TaskOptions::fromJson);
        assertThat(registry().resolve("d").defaults().getString("merge_strategy")).isEqualTo("branch");
        assertThat(registry().resolve("d").toJson().getJsonObject("defaults").getString("network")).isEqualTo("api-only");
        assertThatThrownBy(() -> registry().setDefaults("d", new io.vertx.core.json.JsonObject().put("merge_strategy", "yolo"), TaskOptions::fromJson))
                .hasMessageContaining("merge_strategy must be one of");
        assertThatThrownBy(() -> registry().setDefaults("d", new io.vertx.core.json.JsonObject().put("colour", "red"), TaskOptions::fromJson))
                .hasMessageContaining("unknown repository setting");
    }

    @Test
    void removeForgetsOnlyTheAlias() throws Exception {
        Path repo = gitRepo("keep");
        registry().allow(repo, "k");
        registry().remove("k");
        assertThat(registry().list()).isEmpty();
        assertThat(Files.isDirectory(repo.resolve(".git"))).isTrue();
    }
}
