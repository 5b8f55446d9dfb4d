package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.cli.Main;
import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.TaskEvent;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.Node;
import dev.microvm.orchestrator.testing.FreePorts;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.JavaProcess;
import dev.microvm.orchestrator.vm.Drivers;
import dev.microvm.orchestrator.vm.TestGuest;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Three hosts in three JVMs on loopback, one slot each, real QEMU guests under TCG: alpha (this
 * JVM, home of the repository) and two {@code serve --cluster} daemons, beta and gamma. Tasks
 * submitted at alpha spread over all three hosts and every one is merged into alpha's repository;
 * then gamma is killed with SIGKILL while its task runs: that task is reported node_lost within
 * 10 s, the others finish and merge, the repository is intact and no slot stays taken.
 */
@Tag("vm")
@Tag("cluster")
class ClusterTasksVmTest {

    @TempDir static Path shared;
    private static Path certs;
    @TempDir Path tmp;
    private final Map<String, Process> children = new HashMap<>();
    private final List<Path> childStates = new ArrayList<>();
    private ClusterVertx.Started alpha;
    private Node alphaNode;

    @BeforeAll
    static void certificates() throws Exception {
        certs = shared.resolve("certs");
        ClusterCerts.forThisJvm().create(certs, "lab", List.of("alpha", "beta", "gamma"));
    }

    @AfterEach
    void stop() throws Exception {
        for (Process p : children.values()) if (p.isAlive()) {
            signal("CONT", p.pid());
            p.destroy();
        }
        for (Process p : children.values()) if (!p.waitFor(20, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        if (alphaNode != null) alphaNode.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        // VMs outlive their orchestrator on purpose; the ones of a killed host must not outlive the test
        for (Path state : childStates) {
            ProcessHandle.allProcesses().filter(h -> h.info().commandLine().map(c -> c.contains(state.toString())).orElse(false))
                    .forEach(ProcessHandle::destroyForcibly);
        }
    }

    @Test
    void tasksSpreadOverThreeHostsMergeAtHomeAndAKilledHostsTaskIsReportedNodeLost() throws Exception {
        Path repo = startCluster(List.of("alpha", "beta", "gamma"));

        // 1. three tasks, three hosts, three merges into alpha's main
        Map<String, String> first = new HashMap<>();
        for (int i = 1; i <= 3; i++) {
            JsonObject t = submit("first " + i, agent(3, "first-" + i));
            first.put(t.getString("task_id"), t.getString("node"));
        }
        assertThat(first.values()).as("placements; the hosts now: %s", request(Addresses.CLUSTER_NODES, new JsonObject()).encode())
                .containsExactlyInAnyOrder("alpha", "beta", "gamma");
        for (String id : first.keySet()) {
            JsonObject done = awaitTerminal(id, 240);
            assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
            assertThat(done.getJsonObject("merge_result").getBoolean("merged")).as(done.encodePrettily()).isTrue();
            assertThat(done.getString("node")).isEqualTo(first.get(id));
        }
        for (int i = 1; i <= 3; i++) {
            assertThat(GitRepos.git(repo, "show", "main:first-" + i + ".txt")).isEqualTo("first-" + i);
        }
        // the home log mirrors a remote task: its states (naming the host) and its console lines
        String remoteId = first.entrySet().stream().filter(e -> e.getValue().equals("beta")).findFirst().orElseThrow().getKey();
        List<TaskEvent> events = alphaNode.events().log().readAfter(0, 100_000);
        assertThat(events).anySatisfy(e -> {
            assertThat(e.taskId()).isEqualTo(remoteId);
            assertThat(e.type()).isEqualTo("task.state");
            assertThat(e.data().getString("state")).isEqualTo("running");
            assertThat(e.data().getString("node")).isEqualTo("beta");
        });
        assertThat(events).anySatisfy(e -> {
            assertThat(e.taskId()).isEqualTo(remoteId);
            assertThat(e.type()).isEqualTo("task.log");
        });
        assertThat(request(Addresses.TASK_LOGS, new JsonObject().put("task_id", remoteId)).getString("content")).contains("running agent command");
        JsonObject listed = request(Addresses.TASK_LIST, new JsonObject());
        assertThat(listed.getJsonArray("tasks").stream().map(o -> ((JsonObject) o).getString("task_id")).toList()).containsAll(first.keySet());

        // 2. again on all three hosts; gamma dies while its task runs
        Map<String, String> second = new HashMap<>();
        for (int i = 1; i <= 3; i++) {
            JsonObject t = submit("second " + i, agent(25, "second-" + i));
            second.put(t.getString("task_id"), t.getString("node"));
        }
        assertThat(second.values()).containsExactlyInAnyOrder("alpha", "beta", "gamma");
        String victim = second.entrySet().stream().filter(e -> e.getValue().equals("gamma")).findFirst().orElseThrow().getKey();
        awaitStatus(victim, "running", 180);
        Thread.sleep(2_000);
        long killed = System.nanoTime();
        children.get("gamma").destroyForcibly(); // SIGKILL
        JsonObject lost = awaitTerminal(victim, 30);
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
        assertThat(lost.getString("status")).as(lost.encodePrettily()).isEqualTo("failed");
        assertThat(lost.getString("reason")).isEqualTo("node_lost");
        assertThat(millis).as("node_lost after %d ms", millis).isLessThan(10_000);
        System.err.println("gamma's task reported node_lost " + millis + " ms after SIGKILL");

        for (String id : second.keySet()) {
            if (id.equals(victim)) continue;
            JsonObject done = awaitTerminal(id, 240);
            assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
            assertThat(done.getJsonObject("merge_result").getBoolean("merged")).isTrue();
        }
        List<String> onMain = List.of(GitRepos.git(repo, "ls-tree", "--name-only", "main").split("\n"));
        assertThat(onMain.stream().filter(f -> f.startsWith("second-")).count()).isEqualTo(2);
        assertThat(GitRepos.git(repo, "fsck", "--full", "--strict")).doesNotContain("error", "missing", "broken");
        assertThat(GitRepos.git(repo, "status", "--porcelain")).isEmpty();

        // no slot stays taken: alpha's and beta's allocators are idle
        assertThat(request(Addresses.SLOT_LIST, new JsonObject()).getJsonArray("active")).isEmpty();
        JsonObject nodes = request(Addresses.CLUSTER_NODES, new JsonObject());
        for (Object o : nodes.getJsonArray("nodes")) {
            JsonObject n = (JsonObject) o;
            assertThat(n.getString("node")).isIn("alpha", "beta");
            assertThat(n.getInteger("busy")).as(n.encode()).isZero();
        }
    }

    /**
     * A host that freezes (like a sleeping laptop) while its task runs is reported node_lost; when it
     * wakes up, its VM has finished meanwhile and the agent's commits reach the home repository on
     * refs/tasks/&lt;id&gt;, while the task stays failed and the user's branch is untouched.
     */
    @Test
    void aHostThatComesBackAfterBeingReportedLostSavesItsLateWorkWithoutReopeningTheTask() throws Exception {
        Path repo = startCluster(List.of("alpha", "beta"));
        JsonObject here = submit("occupy alpha", agent(40, "at-home"));
        assertThat(here.getString("node")).isEqualTo("alpha");
        JsonObject away = submit("late", agent(12, "late"));
        assertThat(away.getString("node")).isEqualTo("beta");
        String id = away.getString("task_id");
        String mainBefore = GitRepos.git(repo, "rev-parse", "main");
        awaitStatus(id, "running", 180);
        long pid = children.get("beta").pid();
        signal("STOP", pid);
        JsonObject lost = awaitTerminal(id, 30);
        assertThat(lost.getString("reason")).as(lost.encodePrettily()).isEqualTo("node_lost");
        Thread.sleep(20_000); // the VM (not frozen) finishes meanwhile
        signal("CONT", pid);

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        JsonObject after;
        while (true) {
            after = request(Addresses.TASK_GET, new JsonObject().put("task_id", id));
            if (after.getString("error", "").contains("came back")) break;
            if (System.nanoTime() > deadline) throw new AssertionError("late work never arrived: " + after.encodePrettily());
            Thread.sleep(500);
        }
        assertThat(after.getString("status")).isEqualTo("failed");
        assertThat(after.getString("reason")).isEqualTo("node_lost");
        assertThat(GitRepos.git(repo, "show", "refs/tasks/" + id + ":late.txt")).isEqualTo("late");
        JsonObject home = awaitTerminal(here.getString("task_id"), 240);
        assertThat(home.getString("status")).as(() -> home.encodePrettily() + console(home.getString("task_id"))).isEqualTo("completed");
        assertThat(GitRepos.git(repo, "ls-tree", "--name-only", "main")).contains("at-home.txt").doesNotContain("late.txt");
        assertThat(GitRepos.git(repo, "rev-list", "main")).doesNotContain(GitRepos.git(repo, "rev-parse", "refs/tasks/" + id));
        assertThat(GitRepos.git(repo, "rev-list", "--no-merges", "--count", mainBefore + "..main")).isEqualTo("1");
        assertThat(GitRepos.git(repo, "fsck", "--full", "--strict")).doesNotContain("error", "missing", "broken");
    }

    /** Starts alpha here and the other named hosts as daemons; returns alpha's registered repository. */
    private Path startCluster(List<String> names) throws Exception {
        Path guestDir = TestGuest.get().dir;
        Map<String, int[]> ports = new HashMap<>();
        JsonArray members = new JsonArray();
        int[] all = FreePorts.distinct(2 * names.size());
        for (int i = 0; i < names.size(); i++) {
            String n = names.get(i);
            int[] p = {all[2 * i], all[2 * i + 1]};
            ports.put(n, p);
            members.add(n + "@127.0.0.1:" + p[0]);
        }
        for (String n : names) if (!n.equals("alpha")) startDaemon(n, ports.get(n)[0], ports.get(n)[1], members, certs, guestDir);
        alpha = ClusterVertx.start(ClusterConfig.fromJson(clusterJson("alpha", ports.get("alpha")[0], ports.get("alpha")[1], members, certs), tmp),
                new VertxOptions());
        StatePaths alphaPaths = new StatePaths(tmp.resolve("alpha"));
        OrchestratorConfig config = OrchestratorConfig.defaults(alphaPaths.root()).merge(nodeConfig(guestDir), "test");
        alphaNode = Node.start(alpha.vertx(), alphaPaths, new Node.Options(config, Drivers.create(config, alphaPaths), "alpha",
                Clock.systemUTC(), UnaryOperator.identity()).withPlacement(ClusterServices.placement(alpha, "alpha"))).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        ClusterServices.deploy(alphaNode, alpha).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        Path repo = GitRepos.create(tmp.resolve("project"));
        alphaNode.repos().allow(repo, "project");
        awaitAllOffering(names, 180);
        return repo;
    }

    private String console(String taskId) {
        try {
            return "\nconsole:\n" + Files.readString(alphaNode.paths().taskConsoleLog(taskId));
        } catch (java.io.IOException e) {
            return "\nno console log: " + e;
        }
    }

    private static void signal(String name, long pid) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
        assertThat(kill.waitFor()).isZero();
    }

    private static String agent(int sleepSeconds, String file) {
        return "sleep " + sleepSeconds + " && echo " + file + " > " + file + ".txt && git add " + file + ".txt && git commit -q -m 'Add " + file + "'";
    }

    private JsonObject submit(String description, String agentCommand) throws Exception {
        return request(Addresses.TASK_SUBMIT, new JsonObject().put("repo", "project").put("description", description)
                .put("caller", "test").put("options", new JsonObject().put("agent_command", agentCommand)));
    }

    private JsonObject request(String address, JsonObject body) throws Exception {
        return alpha.vertx().eventBus().<JsonObject>request(address, body).toCompletionStage().toCompletableFuture()
                .get(120, TimeUnit.SECONDS).body();
    }

    private JsonObject awaitTerminal(String id, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            JsonObject rec = request(Addresses.TASK_GET, new JsonObject().put("task_id", id));
            if (List.of("completed", "failed", "cancelled").contains(rec.getString("status"))) return rec;
            if (System.nanoTime() > deadline) throw new AssertionError("task " + id + " still " + rec.encodePrettily());
            Thread.sleep(200);
        }
    }

    private void awaitStatus(String id, String status, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            JsonObject rec = request(Addresses.TASK_GET, new JsonObject().put("task_id", id));
            if (status.equals(rec.getString("status"))) return;
            if (System.nanoTime() > deadline) throw new AssertionError("task " + id + " not " + status + ": " + rec.encodePrettily());
            Thread.sleep(200);
        }
    }

    private void awaitAllOffering(List<String> names, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        JsonObject nodes = null;
        while (System.nanoTime() < deadline) {
            nodes = request(Addresses.CLUSTER_NODES, new JsonObject());
            long up = nodes.getJsonArray("nodes").stream().map(o -> (JsonObject) o)
                    .filter(n -> "up".equals(n.getString("state")) && n.getInteger("slots", 0) == 1).count();
            if (up == names.size()) return;
            Thread.sleep(500);
        }
        throw new AssertionError("not every host offers its slot: " + (nodes == null ? "" : nodes.encodePrettily()));
    }

    private void startDaemon(String name, int membership, int bus, JsonArray members, Path certs, Path guestDir) throws Exception {
        Path state = Files.createDirectories(tmp.resolve(name));
        childStates.add(state);
        Files.writeString(state.resolve("config.json"), nodeConfig(guestDir).encode());
        Files.writeString(state.resolve("cluster.json"), clusterJson(name, membership, bus, members, certs).encode());
        Process p = JavaProcess.builder(Main.class, "serve", "--state-dir", state.toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve(name + ".log").toFile()).start();
        children.put(name, p);
    }

    private static JsonObject nodeConfig(Path guestDir) {
        return new JsonObject().put("slots", 1).put("vm_cpus", 1).put("vm_memory_mib", 512).put("driver", "qemu")
                .put("accelerator", "tcg").put("guest_dir", guestDir.toString()).put("http_port", 0)
                .put("boot_timeout_seconds", 120).put("stop_grace_seconds", 5).put("slot_disk_gib", 1);
    }

    private static JsonObject clusterJson(String name, int membership, int bus, JsonArray members, Path certs) {
        return new JsonObject().put("cluster_name", "lab").put("node_name", name).put("bind_host", "127.0.0.1")
                .put("membership_port", membership).put("event_bus_port", bus).put("members", members).put("certs_dir", certs.toString());
    }
}
