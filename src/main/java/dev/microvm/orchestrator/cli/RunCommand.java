package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.task.TaskFailure;
import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.Node;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

@Command(name = "run", description = "Run one task in a microVM, follow it, and print its final record as JSON.")
final class RunCommand implements Callable<Integer> {

    @Mixin StateOptions state;

    @Option(names = "--repo", required = true, description = "Registered repository alias")
    String repo;

    @Parameters(paramLabel = "DESCRIPTION", description = "What the agent should do")
    String description;

    @Option(names = "--agent-command", description = "Shell command run in the guest instead of Claude Code")
    String agentCommand;

    @Option(names = "--merge", description = "Merge strategy: auto, branch or none")
    String merge;

    @Option(names = "--base", description = "Branch or commit to start from")
    String base;

    @Option(names = "--timeout", description = "Maximum agent run time in seconds")
    Integer timeout;

    @Option(names = "--include-uncommitted", description = "Carry uncommitted changes into the task (never merged back)")
    boolean includeUncommitted;

    @Option(names = "--untracked", description = "Glob of untracked files to copy into the task (repeatable)")
    List<String> untracked;

    @Option(names = "--driver", description = "Override the hypervisor driver: qemu or vfkit")
    String driver;

    @Option(names = "--network", description = "Guest network: full, allowlist, api-only or none (default: the repository's, then config.json's)")
    String network;

    @Option(names = "--allow-domain", description = "Under --network allowlist: a domain the task may reach, exact or *.suffix (repeatable)")
    List<String> allowDomains;

    @Option(names = "--memory-mib", description = "Guest memory") Integer memory;
    @Option(names = "--cpus", description = "Guest CPUs") Integer cpus;

    @Override
    public Integer call() throws Exception {
        JsonObject overrides = new JsonObject().put("http_port", 0);
        if (driver != null) overrides.put("driver", driver);
        Node node = NodeBootstrap.start(state.paths(), overrides, false).node();
        try {
            JsonObject options = new JsonObject().put("include_uncommitted", includeUncommitted);
            if (agentCommand != null) options.put("agent_command", agentCommand);
            if (merge != null) options.put("merge_strategy", merge.toLowerCase(java.util.Locale.ROOT));
            if (base != null) options.put("base", base);
            if (timeout != null) options.put("timeout_seconds", timeout);
            if (untracked != null) options.put("untracked_patterns", new JsonArray(untracked));
            if (memory != null) options.put("memory_mib", memory);
            if (cpus != null) options.put("cpus", cpus);
            if (network != null) options.put("network", network);
            if (allowDomains != null) options.put("allowed_domains", new JsonArray(allowDomains));
            CompletableFuture<JsonObject> done = new CompletableFuture<>();
            String[] taskId = new String[1];
            node.vertx().eventBus().<JsonObject>consumer(Addresses.EVENTS, m -> {
                JsonObject e = m.body();
                if (taskId[0] == null || !taskId[0].equals(e.getString("task_id"))) return;
                JsonObject data = e.getJsonObject("data", new JsonObject());
                if (EventTypes.TASK_STATE.equals(e.getString("type"))) {
                    System.err.println("[" + taskId[0] + "] " + data.getString("state")
                            + (data.getString("reason") != null ? " (" + data.getString("reason") + ": " + data.getString("error") + ")" : ""));
                    if (TaskState.isTerminalWire(data.getString("state"))) done.complete(data);
                } else if (EventTypes.TASK_LOG.equals(e.getString("type"))) {
                    data.getJsonArray("lines", new JsonArray()).forEach(l -> System.err.println("  | " + l));
                }
            });
            JsonObject submitted;
            try {
                submitted = node.vertx().eventBus().<JsonObject>request(Addresses.TASK_SUBMIT, new JsonObject()
                                .put("repo", repo).put("description", description).put("caller", "cli").put("options", options))
                        .toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS).body();
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof ReplyException re) || re.failureType() != ReplyFailure.RECIPIENT_FAILURE) throw e;
                // refused (no task exists): the node's words, with the reason when it gave one
                throw new IllegalArgumentException(FailureReason.fromCode(re.failureCode())
                        .map(r -> new TaskFailure(r, re.getMessage()).display()).orElse(re.getMessage()));
            }
            taskId[0] = submitted.getString("task_id");
            System.err.println("[" + taskId[0] + "] submitted");
            // the event may have fired before taskId was known: check the record too
            JsonObject record = waitForEnd(node, taskId[0], done);
            System.out.println(record.encodePrettily());
            return "completed".equals(record.getString("status")) ? 0 : 1;
        } finally {
            node.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    private static JsonObject waitForEnd(Node node, String id, CompletableFuture<JsonObject> done) throws Exception {
        while (true) {
            try {
                done.get(2, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException ignored) {
                // fall through to the record check
            }
            JsonObject rec = node.vertx().eventBus().<JsonObject>request(Addresses.TASK_GET, new JsonObject().put("task_id", id))
                    .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS).body();
            String s = rec.getString("status");
            if (TaskState.isTerminalWire(s)) {
                Thread.sleep(200); // let the slot release land before the node closes
                return rec;
            }
        }
    }
}
