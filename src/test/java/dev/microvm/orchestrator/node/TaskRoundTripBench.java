package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.Drivers;
import io.vertx.core.json.JsonObject;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Benchmark main (scripts/bench/vm-roundtrip.sh): whole task round trips through a node — slot,
 * workspace preparation, boot, agent, bundle, import, merge — with the same guest and agent as
 * the raw QEMU runs. Prints "task run N: MS ms" lines.
 */
public final class TaskRoundTripBench {
    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        Path guest = Path.of(args[1]);
        String accel = args[2];
        int runs = Integer.parseInt(args[3]);
        Path repo = GitRepos.create(work.resolve("repo"));
        Path state = work.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "qemu", guest, 1).merge(new JsonObject().put("accelerator", accel), "bench");
        try (NodeFixture f = NodeFixture.start(state, config, Drivers.create(config, new StatePaths(state)))) {
            f.node.repos().allow(repo, "bench");
            for (int i = 1; i <= runs; i++) {
                long start = System.nanoTime();
                String id = f.submit("bench", "bench", new JsonObject().put("agent_command",
                        "echo " + i + " > x.txt && git add x.txt && git commit -qm bench")).getString("task_id");
                JsonObject done = f.awaitTerminal(id, Duration.ofMinutes(5));
                long ms = (System.nanoTime() - start) / 1_000_000;
                if (!"completed".equals(done.getString("status"))) throw new IllegalStateException("task failed: " + done.encode());
                System.out.println("task run " + i + ": " + ms + " ms");
            }
        }
        System.exit(0);
    }
}
