package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.config.StatePaths;

import java.security.SecureRandom;

/** Server-generated task ids: "t" + 10 characters of [a-z0-9]; short enough for socket paths. */
public final class TaskIds {
    private static final char[] ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();

    private TaskIds() {}

    public static String next() {
        StringBuilder b = new StringBuilder("t");
        for (int i = 0; i < 10; i++) b.append(ALPHABET[RANDOM.nextInt(ALPHABET.length)]);
        return b.toString();
    }

    /** Validates an id that came from outside (MCP, HTTP, CLI) before it touches a path. */
    public static String require(String id) {
        if (id == null || id.isBlank()) throw new IllegalArgumentException("task_id is required");
        if (!StatePaths.TASK_ID.matcher(id).matches()) {
            throw new IllegalArgumentException("invalid task_id '" + id.replaceAll("\\p{Cntrl}", "?")
                    + "': task ids look like t7k2m9q4x1 (list_tasks shows them)");
        }
        return id;
    }
}
