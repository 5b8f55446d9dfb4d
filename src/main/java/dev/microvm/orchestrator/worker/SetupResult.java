package dev.microvm.orchestrator.worker;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.Optional;

/**
 * Reads the runner's {@code out/setup.result}: {@code ok MS}, {@code skipped} (warm slot), or {@code failed N EXIT MS} (N the
 * 1-based command, 0 when a process setup left could not be ended). Written by the guest's root
 * before the agent starts; the agent user cannot change it. Anything else is reported as unreadable.
 */
final class SetupResult {

    private SetupResult() {}

    /**
     * @param text     the file's content; empty when there was none (no setup ran)
     * @param commands the environment's setup commands, to name the failed one
     * @return {outcome: ok|skipped|failed|unreadable|not_run, duration_ms?, command?, index?, exit_code?, error?}, or empty when no setup ran
     */
    static Optional<JsonObject> parse(Optional<String> text, List<String> commands) {
        if (text.isEmpty()) return commands.isEmpty() ? Optional.empty()
                : Optional.of(new JsonObject().put("outcome", "not_run").put("commands", commands.size()));
        String[] f = text.get().trim().split(" ");
        try {
            if (f.length == 1 && f[0].equals("skipped")) {
                // warm slot: the setup key is unchanged since this slot last ran setup for the repository
                return Optional.of(new JsonObject().put("outcome", "skipped").put("commands", commands.size()));
            }
            if (f.length == 2 && f[0].equals("ok")) {
                return Optional.of(new JsonObject().put("outcome", "ok").put("duration_ms", Long.parseLong(f[1])).put("commands", commands.size()));
            }
            if (f.length == 4 && f[0].equals("failed")) {
                int index = Integer.parseInt(f[1]);
                int exit = Integer.parseInt(f[2]);
                JsonObject j = new JsonObject().put("outcome", "failed").put("duration_ms", Long.parseLong(f[3])).put("exit_code", exit)
                        .put("index", index).put("commands", commands.size());
                if (index >= 1 && index <= commands.size()) {
                    String cmd = commands.get(index - 1);
                    j.put("command", cmd).put("error", "setup command " + index + " `" + cmd + "` exited with code " + exit + "; the agent did not start"
                            + " (its output: the console lines starting mvo-setup:, get_task_logs stream console)");
                } else {
                    j.put("error", "a process setup left behind could not be ended; the agent did not start");
                }
                return Optional.of(j);
            }
        } catch (NumberFormatException e) {
            // falls through: unreadable
        }
        return Optional.of(new JsonObject().put("outcome", "unreadable").put("error", "the guest's setup result is unreadable"));
    }

    /**
     * Adds the runner's {@code out/nix-develop.result} to the setup outcome: preparing the devShell
     * is part of setup (it runs first, and setup's commands run inside it). {@code ok MS BEFORE AFTER
     * BUILT}: the store's path count before and after, and how many derivations were built (none:
     * the store already held the devShell); {@code failed EXIT MS}: setup failed, the agent did not start.
     *
     * @param setup the outcome of the setup commands, if any ran or were expected
     * @param text  the file's content, if the runner wrote one
     */
    static Optional<JsonObject> withNixDevelop(Optional<JsonObject> setup, Optional<String> text) {
        if (text.isEmpty()) return setup;
        String[] f = text.get().trim().split(" ");
        JsonObject nix;
        try {
            if (f.length == 5 && f[0].equals("ok")) {
                nix = new JsonObject().put("outcome", "ok").put("duration_ms", Long.parseLong(f[1])).put("store_paths_before", Long.parseLong(f[2]))
                        .put("store_paths_after", Long.parseLong(f[3])).put("built", Long.parseLong(f[4]));
            } else if (f.length == 3 && f[0].equals("failed")) {
                nix = new JsonObject().put("outcome", "failed").put("exit_code", Integer.parseInt(f[1])).put("duration_ms", Long.parseLong(f[2]))
                        .put("error", "nix develop of the repository's flake exited with code " + f[1] + "; the agent did not start"
                                + " (its output: the console lines starting mvo-nix:, get_task_logs stream console)");
            } else {
                nix = null;
            }
        } catch (NumberFormatException e) {
            nix = null;
        }
        if (nix == null) nix = new JsonObject().put("outcome", "unreadable").put("error", "the guest's nix develop result is unreadable");
        JsonObject merged = setup.map(JsonObject::copy).orElseGet(() -> new JsonObject().put("outcome", "ok").put("commands", 0));
        merged.put("nix_develop", nix);
        if (!"ok".equals(nix.getString("outcome"))) merged.put("outcome", "failed").put("error", nix.getString("error"));
        return Optional.of(merged);
    }

    /** The setup commands recorded with the task's environment (prepared.environment.value.setup). */
    static List<String> commands(JsonObject prepared) {
        JsonArray a = prepared == null ? null : prepared.getJsonObject("environment", new JsonObject())
                .getJsonObject("value", new JsonObject()).getJsonArray("setup");
        return a == null ? List.of() : a.stream().map(String::valueOf).toList();
    }
}
