package dev.microvm.orchestrator.stream;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which events a stream client wants: some tasks, some event types, or everything. Types match
 * exactly, or by prefix when written as {@code task.*}.
 *
 * @param taskIds empty for every task
 * @param types   empty for every type
 */
record EventFilter(Set<String> taskIds, List<String> types) {

    /** Parses comma-separated query values such as {@code task=a,b&type=task.log,slot}. */
    static EventFilter parse(String tasks, String types) {
        return new EventFilter(split(tasks).collect(Collectors.toUnmodifiableSet()), split(types).toList());
    }

    boolean matches(String type, String taskId) {
        if (!taskIds.isEmpty() && (taskId == null || !taskIds.contains(taskId))) return false;
        if (types.isEmpty()) return true;
        for (String t : types) {
            if (t.endsWith(".*") ? type != null && type.startsWith(t.substring(0, t.length() - 1)) : t.equals(type)) return true;
        }
        return false;
    }

    private static java.util.stream.Stream<String> split(String csv) {
        if (csv == null || csv.isBlank()) return java.util.stream.Stream.empty();
        return Arrays.stream(csv.split(",")).map(String::strip).filter(s -> !s.isEmpty());
    }
}
