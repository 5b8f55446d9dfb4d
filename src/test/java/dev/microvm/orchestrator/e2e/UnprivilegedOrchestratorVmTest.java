package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.JavaProcess;
import dev.microvm.orchestrator.vm.GuestImage;
import dev.microvm.orchestrator.vm.TestGuest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The orchestrator run by an ordinary user (here: {@code nobody}, when the suite runs as root;
 * otherwise the suite's own user): real Claude Code in the VM still writes and commits as the
 * agent user, and the commit is merged. QEMU runs as that ordinary user too, so every file the
 * guest wrote on the host belongs to it.
 */
@Tag("vm")
class UnprivilegedOrchestratorVmTest {
    private static final int NOBODY = 65534;

    @TempDir Path tmp;

    @Test
    void anOrdinaryUsersOrchestratorRunsClaudeCodeWhichWritesAndCommits() throws Exception {
        boolean root = "root".equals(System.getProperty("user.name"));
        JsonArray scenarios = new JsonArray().add(ScriptedUpstream.scenario("SCENARIO-COMMIT",
                ScriptedUpstream.bash("id -u > uid.txt && mkdir -p src && echo 'print(42)' > src/main.py"
                        + " && git add uid.txt src && git commit -q -m 'Add main.py'"),
                ScriptedUpstream.text("Added src/main.py.")));
        try (ScriptedUpstream upstream = new ScriptedUpstream(tmp.resolve("upstream"), scenarios)) {
            Path base = Files.createDirectories(tmp.resolve("user"));
            Path image = linkImage(TestGuest.agent(), base.resolve("image"));
            Path cp = copyClasspath(base.resolve("cp"));
            Path state = Files.createDirectories(base.resolve("state"));
            Path home = Files.createDirectories(base.resolve("home"));
            Path repo = GitRepos.create(base.resolve("project"));
            Files.writeString(state.resolve("config.json"), new JsonObject().put("driver", "qemu").put("accelerator", "tcg")
                    .put("vm_cpus", 2).put("vm_memory_mib", 2048).put("slot_disk_gib", 1).put("http_port", 0).put("slots", 1)
                    .put("guest_dir", image.toString()).put("boot_timeout_seconds", 120).put("api_upstream", upstream.url())
                    // network full needs root (its namespace); the agent needs only the credential proxy
                    .put("default_network", "api-only").encode());
            if (root) {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
                run(List.of("chown", "-R", NOBODY + ":" + NOBODY, base.toString()), null, 60);
            }

            String allow = launch(root, cp, home, List.of("allow", "--state-dir", state.toString(), repo.toString(), "--alias", "project"), 120);
            assertThat(allow).contains("project");
            String out = launch(root, cp, home, List.of("run", "--state-dir", state.toString(), "--repo", "project",
                    "SCENARIO-COMMIT: add src/main.py and commit it"), 400);

            assertThat(out).contains("\"status\" : \"completed\"").contains("\"merged\" : true");
            assertThat(userGit(repo, "log", "-1", "--format=%s", "main").strip()).isEqualTo("Add main.py");
            assertThat(userGit(repo, "show", "main:uid.txt").strip()).as("the agent's uid in the guest").isEqualTo("1000");
            assertThat(userGit(repo, "show", "main:src/main.py").strip()).isEqualTo("print(42)");
            // QEMU ran as the ordinary user: what the guest wrote on the host belongs to it
            int expectedOwner = root ? NOBODY : (Integer) Files.getAttribute(tmp, "unix:uid");
            try (Stream<Path> io = Files.walk(state.resolve("tasks"))) {
                List<Path> guestWritten = io.filter(p -> p.toString().contains("/io/out/")).toList();
                assertThat(guestWritten).isNotEmpty();
                for (Path p : guestWritten) {
                    assertThat((Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS)).as(p.toString()).isEqualTo(expectedOwner);
                }
            }
        }
    }

    /** git on the ordinary user's repository (root's git refuses a repository another user owns). */
    private static String userGit(Path repo, String... args) throws IOException {
        List<String> all = new ArrayList<>(List.of("-c", "safe.directory=*"));
        all.addAll(List.of(args));
        return GitRepos.git(repo, all.toArray(String[]::new));
    }

    /** The image's files, hard-linked (or copied) where the ordinary user can read them. */
    private static Path linkImage(TestGuest guest, Path into) throws IOException {
        Files.createDirectories(into);
        GuestImage image = guest.image;
        List<Path> files = new ArrayList<>(List.of(image.kernel(), image.initrd(), guest.dir.resolve(GuestImage.MANIFEST)));
        image.disks().forEach(d -> files.add(d.file()));
        for (Path f : files) {
            Path target = into.resolve(f.getFileName());
            try {
                Files.createLink(target, f.toRealPath());
            } catch (IOException | UnsupportedOperationException e) {
                Files.copy(f.toRealPath(), target);
            }
        }
        return into;
    }

    /** The orchestrator's classes and runtime libraries, copied out of the build user's home. */
    private static Path copyClasspath(Path into) throws Exception {
        Files.createDirectories(into);
        String[] entries = JavaProcess.classpath().split(java.io.File.pathSeparator);
        int i = 0;
        for (String e : entries) {
            Path p = Path.of(e);
            if (!Files.exists(p) || e.contains("test-classes") || e.contains("surefire") || e.contains("junit")) continue;
            Path target = into.resolve(String.format("%03d-%s", i++, p.getFileName()));
            if (Files.isDirectory(p)) {
                run(List.of("cp", "-r", p.toString(), target.toString()), null, 60);
            } else {
                Files.copy(p, target);
            }
        }
        return into;
    }

    private static String launch(boolean root, Path cp, Path home, List<String> args, int seconds) throws Exception {
        List<String> cmd = new ArrayList<>();
        if (root) cmd.addAll(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups", "--"));
        String classpath;
        try (Stream<Path> s = Files.list(cp)) {
            classpath = String.join(java.io.File.pathSeparator, s.sorted().map(Path::toString).toList());
        }
        cmd.addAll(List.of(JavaProcess.javaBinary(), "-XX:TieredStopAtLevel=1", "-cp", classpath, "dev.microvm.orchestrator.cli.Main"));
        cmd.addAll(args);
        return run(cmd, home, seconds);
    }

    private static String run(List<String> cmd, Path home, int seconds) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (home != null) {
            pb.directory(home.toFile());
            pb.environment().keySet().removeIf(k -> k.startsWith("ANTHROPIC_") || k.startsWith("CLAUDE_CODE_"));
            pb.environment().put("HOME", home.toString());
            pb.environment().put("ANTHROPIC_API_KEY", "sk-ant-unprivileged-test");
        }
        Path output = Files.createTempFile("mvo-unprivileged", ".out");
        pb.redirectOutput(output.toFile());
        Process p = pb.start();
        boolean ended = p.waitFor(seconds, TimeUnit.SECONDS); // output goes to a file, so the timeout holds
        if (!ended) p.destroyForcibly();
        String text = Files.readString(output, StandardCharsets.UTF_8);
        Files.delete(output);
        assertThat(ended).as(String.join(" ", cmd) + "\n" + text).isTrue();
        assertThat(p.exitValue()).as(String.join(" ", cmd) + "\n" + text).isZero();
        return text;
    }
}
