package dev.microvm.orchestrator.events;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Turns the growing output of a running task (the VM console, or the agent's stream-json log) into
 * the data of {@code task.log} and {@code task.progress} events. Feed it whatever was appended
 * since the last call; it keeps an unfinished last line until its end arrives.
 *
 * <p>Output comes from the guest and is untrusted: terminal escape sequences and control
 * characters are removed, over-long lines are cut, and one event carries a bounded number of
 * lines. Not thread-safe; one instance per task and stream.
 */
public final class TaskOutputEvents {

    /** An event to append to the log: type and data; the caller adds the task id. */
    public record Pending(String type, JsonObject data) {}

    static final int MAX_LINE_CHARS = 4096;
    static final int MAX_LINES_PER_EVENT = 200;
    private static final Pattern ANSI = Pattern.compile("\u001B(?:\\[[0-?]*[ -/]*[@-~]|\\][^\u0007\u001B]*(?:\u0007|\u001B\\\\)?|[@-Z\\\\-_])");
    private static final Pattern CONTROL = Pattern.compile("[\\x00-\\x08\\x0B-\\x1F\\x7F]");

    private final String stream;
    private final StreamJsonProgress progress;
    private final StringBuilder partial = new StringBuilder();

    /**
     * @param stream          name shown with the lines, for example {@code console} or {@code agent}
     * @param agentStreamJson true when the output is Claude Code stream-json, to derive progress from it
     */
    public TaskOutputEvents(String stream, boolean agentStreamJson) {
        this.stream = stream;
        this.progress = agentStreamJson ? new StreamJsonProgress() : null;
    }

    /** Consumes appended output; returns the events its complete lines make. */
    public List<Pending> accept(String chunk) {
        partial.append(chunk);
        List<String> lines = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < partial.length(); i++) {
            if (partial.charAt(i) == '\n') {
                lines.add(partial.substring(start, i));
                start = i + 1;
            }
        }
        partial.delete(0, start);
        // stream-json lines carry whole files in tool inputs and results: wait longer for their end
        int maxPartial = progress != null ? 4 * 1024 * 1024 : MAX_LINE_CHARS * 4;
        if (partial.length() > maxPartial) {
            // a line without end: show what there is rather than hold it forever
            lines.add(partial.toString());
            partial.setLength(0);
        }
        return events(lines);
    }

    /** The output ended: the unfinished last line, if any, becomes an event too. */
    public List<Pending> finish() {
        if (partial.isEmpty()) return List.of();
        List<String> last = List.of(partial.toString());
        partial.setLength(0);
        return events(last);
    }

    private List<Pending> events(List<String> rawLines) {
        List<Pending> out = new ArrayList<>();
        JsonArray batch = new JsonArray();
        JsonObject latestProgress = null;
        for (String raw : rawLines) {
            if (progress != null) {
                var changed = progress.accept(raw);
                if (changed.isPresent()) latestProgress = changed.get();
            }
            batch.add(clean(raw));
            if (batch.size() == MAX_LINES_PER_EVENT) {
                out.add(logEvent(batch));
                batch = new JsonArray();
            }
        }
        if (!batch.isEmpty()) out.add(logEvent(batch));
        if (latestProgress != null) out.add(new Pending(EventTypes.TASK_PROGRESS, latestProgress));
        return out;
    }

    private Pending logEvent(JsonArray lines) {
        return new Pending(EventTypes.TASK_LOG, new JsonObject().put("stream", stream).put("lines", lines));
    }

    static String clean(String line) {
        String s = line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
        int cr = s.lastIndexOf('\r');
        if (cr >= 0) s = s.substring(cr + 1); // progress bars redraw the line: keep what is shown last
        s = CONTROL.matcher(ANSI.matcher(s).replaceAll("")).replaceAll("");
        return s.length() > MAX_LINE_CHARS ? s.substring(0, MAX_LINE_CHARS) + " …[cut]" : s;
    }
}
