package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.TestGuest;
import dev.microvm.orchestrator.vm.Drivers;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The guest is root in its VM and owns its output directory. Agents that act like a compromised
 * guest (they write the runner's output files themselves and power off) plant a symbolic link,
 * a FIFO, a huge sparse log and a bundle full of extra refs next to hooks and a hostile git
 * config. Every task ends with a clear outcome, nothing hangs, the user's repository gains at
 * most the legitimate commit, and no guest-written hook or config ever runs on the host.
 */
@Tag("vm")
class HostileGuestVmTest {

    private static final String OUT = "/run/mvo/io/out";
    /** Ends the VM the way a compromised runner would: claims success without the real runner. */
    private static final String CLAIM_DONE = "echo 0 > " + OUT + "/exit_code; : > " + OUT + "/done; sync; poweroff -f";

    @TempDir Path tmp;

    @Test
    void hostileGuestOutputIsRefusedOrContainedAndNothingRunsOnTheHost() throws Exception {
        // a compromised guest: its agent has root (a test image knob), as an escaped agent would
        Path rootGuest = TestGuest.get().derived(tmp.resolve("root-guest"), "mvo.test.agent_as_root=1");
        E2eState state = E2eState.create(tmp, 2, new JsonObject().put("guest_dir", rootGuest.toString()));
        Path secret = tmp.resolve("home/.ssh/id_ed25519");
        Files.createDirectories(secret.getParent());
        Files.writeString(secret, "PRIVATE-KEY-MATERIAL\n");
        Path marker = tmp.resolve("hook-ran");
        String before = state.git("rev-parse", "main");

        Map<String, String> agents = new LinkedHashMap<>();
        agents.put("symlink", "echo x > x.txt && git add x.txt && git commit -q -m Linked; "
                + "ln -sf " + secret + " " + OUT + "/result.bundle; " + CLAIM_DONE);
        // QEMU's 9p share (security_model=none) does not let the guest create a FIFO on the host, but a
        // share that did (virtiofs) would; the test plants it on the host while this guest waits
        agents.put("fifo", "sleep 15; : > " + OUT + "/done; sync; poweroff -f");
        agents.put("no-exit-code", "echo n > n.txt && git add n.txt && git commit -q -m Unreported; : > " + OUT + "/done; sync; poweroff -f");
        agents.put("sparse", "dd if=/dev/zero of=" + OUT + "/agent.log bs=1M count=1 seek=20480 2>/dev/null; "
                + "echo big > big.txt && git add big.txt && git commit -q -m 'Survived a huge log'");
        // guest root plants a device node and a setuid binary in both writable shares
        agents.put("plant", "mknod ws-dev c 1 3 && cp /bin/busybox ws-suid && chmod 4755 ws-suid"
                + " && mknod " + OUT + "/../io-dev b 7 0 && cp /bin/busybox " + OUT + "/../io-suid && chmod 4755 " + OUT + "/../io-suid"
                + " && ls -ln ws-dev ws-suid " + OUT + "/../io-dev " + OUT + "/../io-suid");
        agents.put("refs", "echo legit > legit.txt && git add legit.txt && git commit -q -m Legit; "
                + "git branch evil; git tag -a -m t evil-tag; git update-ref refs/remotes/origin/main HEAD; "
                + "for h in post-merge post-checkout post-rewrite reference-transaction pre-commit post-commit fsmonitor-watchman; do "
                + "printf '#!/bin/sh\\ntouch " + marker + "\\n' > .git/hooks/$h; chmod +x .git/hooks/$h; done; "
                + "git config core.fsmonitor 'touch " + marker + "'; git config core.hooksPath \"$PWD/.git/hooks\"; "
                + "git config alias.status '!touch " + marker + "'; "
                + "git bundle create " + OUT + "/result.bundle --all 2>/dev/null; " + CLAIM_DONE);

        OrchestratorConfig config = OrchestratorConfig.load(state.paths);
        Map<String, JsonObject> done = new LinkedHashMap<>();
        try (NodeFixture f = NodeFixture.start(state.root, config, Drivers.create(config, state.paths))) {
            Map<String, String> ids = new LinkedHashMap<>();
            for (var e : agents.entrySet()) {
                ids.put(e.getKey(), f.submit("project", "hostile: " + e.getKey(), new JsonObject()
                        .put("agent_command", e.getValue()).put("timeout_seconds", 120)).getString("task_id"));
            }
            f.awaitStatus(ids.get("fifo"), "running", Duration.ofMinutes(2));
            Path fifoFile = state.paths.taskIo(ids.get("fifo")).resolve("out/exit_code");
            Files.createDirectories(fifoFile.getParent());
            assertThat(new ProcessBuilder("mkfifo", fifoFile.toString()).start().waitFor()).isZero();
            for (var e : ids.entrySet()) done.put(e.getKey(), f.awaitTerminal(e.getValue(), Duration.ofMinutes(3)));
            assertThat(Files.exists(fifoFile, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(fifoFile, LinkOption.NOFOLLOW_LINKS))
                    .as("the FIFO was still in place when the task finished").isTrue();
            Thread.sleep(300);
            assertThat(f.request(Addresses.SLOT_LIST, new JsonObject()).getJsonArray("active")).isEmpty();
        }
        String all = new JsonObject(new LinkedHashMap<>(done)).encodePrettily();
        done.forEach((k, r) -> System.out.println("hostile " + k + ": " + r.getString("status") + " reason=" + r.getString("reason")
                + " error=" + r.getString("error") + " exit=" + r.getValue("exit_code") + " merge=" + r.getValue("merge_result")));

        JsonObject symlink = done.get("symlink");
        assertThat(symlink.getString("status")).as(all).isEqualTo("failed");
        // QEMU's mapped-xattr share stores a guest-made link as a plain file holding the link's target:
        // no link ever exists on the host, and the "bundle" is rejected as what it is
        assertThat(symlink.getString("reason")).as(all).isEqualTo("bundle_corrupt");
        Path plantedLink = state.paths.taskIo(ids(symlink)).resolve("out/result.bundle");
        assertThat(Files.isSymbolicLink(plantedLink)).isFalse();
        assertThat(Files.readString(plantedLink)).isEqualTo(secret.toString());
        assertThat(Files.readString(secret)).isEqualTo("PRIVATE-KEY-MATERIAL\n");

        JsonObject fifo = done.get("fifo");
        assertThat(fifo.getString("status")).as(all).isEqualTo("failed");
        assertThat(fifo.getString("reason")).as(all).isEqualTo("guest_output_invalid");
        assertThat(fifo.getValue("exit_code")).as("a FIFO is no exit code: " + all).isNull();

        JsonObject silent = done.get("no-exit-code");
        assertThat(silent.getString("status")).as("an unknown agent outcome is no success: " + all).isEqualTo("failed");
        assertThat(silent.getString("reason")).as(all).isEqualTo("guest_output_invalid");

        JsonObject sparse = done.get("sparse");
        assertThat(sparse.getString("status")).as(all).isEqualTo("completed");
        assertThat(sparse.getJsonObject("merge_result").getBoolean("merged")).as(all).isTrue();

        // the guest saw what it planted, the host holds only plain files without setuid bits
        JsonObject plant = done.get("plant");
        assertThat(plant.getString("status")).as(all).isEqualTo("completed");
        String plantLog = Files.readString(state.paths.taskIo(ids(plant)).resolve("out/agent.log"));
        assertThat(plantLog).as("the guest made a device node and a setuid file").contains("crw").contains("brw").contains("rws");
        for (Path planted : List.of(state.paths.taskWorkspace(ids(plant)).resolve("ws-dev"), state.paths.taskWorkspace(ids(plant)).resolve("ws-suid"),
                state.paths.taskIo(ids(plant)).resolve("io-dev"), state.paths.taskIo(ids(plant)).resolve("io-suid"))) {
            int mode = (Integer) Files.getAttribute(planted, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            assertThat(Files.isRegularFile(planted, LinkOption.NOFOLLOW_LINKS)).as(planted + " is a plain file on the host").isTrue();
            assertThat(mode & 07000).as(planted + " has no setuid/setgid/sticky bit on the host (mode %o)", mode).isZero();
        }

        JsonObject refs = done.get("refs");
        assertThat(refs.getString("status")).as("extra refs in the bundle are ignored: " + all).isEqualTo("completed");
        assertThat(refs.getJsonObject("merge_result").getInteger("commits")).as(all).isEqualTo(1);

        // the user's repository: only legitimate commits, none of the guest's extra refs, intact
        assertThat(state.git("for-each-ref", "--format=%(refname)")).as(all)
                .doesNotContain("evil", "refs/remotes", "refs/tags");
        assertThat(state.git("log", "--format=%s", "main")).as(all).contains("Survived a huge log", "Legit").doesNotContain("Linked", "Unreported");
        assertThat(state.git("merge-base", "--is-ancestor", before, "main")).isEmpty();
        assertThat(state.git("fsck", "--strict", "--no-progress")).doesNotContain("error");
        assertThat(state.git("config", "--local", "--list")).doesNotContain("fsmonitor", "hookspath", "alias");
        assertThat(Files.exists(state.repo.resolve(".git/hooks/post-merge"))).isFalse();
        assertThat(state.git("status", "--porcelain")).isEmpty();
        assertThat(marker).as("a guest-written hook or config ran on the host").doesNotExist();
        assertThat(Files.readString(state.paths.eventLog())).doesNotContain("PRIVATE-KEY-MATERIAL");
        assertThat(CrashSupport.anyQemuFor(state.root)).as("no QEMU left running").isFalse();
    }

    private static String ids(JsonObject record) {
        return record.getString("task_id", record.getString("id"));
    }
}
