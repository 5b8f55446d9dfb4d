package dev.microvm.orchestrator.worker;

import io.vertx.core.json.JsonArray;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The console lines of one slice of the console log, as {@code task.log} data. Nothing is dropped
 * and nothing is cut: a line longer than {@link #MAX_PIECE_CHARS} becomes several entries, and
 * every entry that is not the end of its line is listed in {@code continues} (the last one may
 * continue into the next event). A slice stops early rather than lose lines: after
 * {@link #MAX_ENTRIES} entries, or right after the runner's line saying it skipped agent output,
 * so the caller can put a marker event at that point of the stream.
 */
final class ConsoleSlice {

    static final int MAX_PIECE_CHARS = 2000;
    static final int MAX_ENTRIES = 200;
    /** Printed by the in-guest runner when it skips a jump of agent output on the console. */
    private static final Pattern RUNNER_SKIP = Pattern.compile("mvo-runner: (\\d+) bytes of agent output not shown here");

    /**
     * @param lines         the entries
     * @param continues     indexes of entries whose line goes on in the next entry
     * @param consumed      bytes of the slice these entries cover (the next slice starts there)
     * @param completeLines whole lines, unsplit, for progress parsing
     * @param skippedBytes  agent output the runner did not copy to the console, when this slice ends with its notice
     */
    record Result(JsonArray lines, JsonArray continues, int consumed, List<String> completeLines, OptionalLong skippedBytes) {}

    private ConsoleSlice() {}

    /**
     * @param bytes     the slice, read from the console log
     * @param length    bytes valid in {@code bytes}
     * @param sliceFull true when the read was capped: a slice without a line end then is part of one long line
     * @param ended     the console is complete (the VM stopped): a last line without its end is whole
     */
    static Result of(byte[] bytes, int length, boolean sliceFull, boolean ended) {
        JsonArray lines = new JsonArray();
        JsonArray continues = new JsonArray();
        List<String> complete = new ArrayList<>();
        int consumed = 0;
        int start = 0;
        boolean full = false;
        for (int i = 0; i < length; i++) {
            if (bytes[i] != '\n') continue;
            String clean = ConsoleLines.clean(new String(bytes, start, i - start, StandardCharsets.UTF_8));
            List<String> pieces = pieces(clean);
            if (!lines.isEmpty() && lines.size() + pieces.size() > MAX_ENTRIES) {
                full = true; // the rest goes in the next event
                break;
            }
            add(pieces, false, lines, continues);
            if (!clean.isEmpty()) complete.add(clean);
            start = i + 1;
            consumed = start;
            Matcher skip = RUNNER_SKIP.matcher(clean);
            if (skip.find()) return new Result(lines, continues, consumed, complete, OptionalLong.of(parse(skip.group(1))));
        }
        if (!full && ended && !sliceFull && start < length) {
            String clean = ConsoleLines.clean(new String(bytes, start, length - start, StandardCharsets.UTF_8));
            add(pieces(clean), false, lines, continues);
            if (!clean.isEmpty()) complete.add(clean);
            consumed = length;
        } else if (consumed == 0 && sliceFull && length > 0) {
            // one line longer than the slice: pass on what there is, marked as going on
            int end = utf8Boundary(bytes, length);
            add(pieces(ConsoleLines.cleanPart(new String(bytes, 0, end, StandardCharsets.UTF_8))), true, lines, continues);
            consumed = end;
        }
        return new Result(lines, continues, consumed, complete, OptionalLong.empty());
    }

    private static void add(List<String> pieces, boolean lastContinues, JsonArray lines, JsonArray continues) {
        for (int k = 0; k < pieces.size(); k++) {
            if (k < pieces.size() - 1 || lastContinues) continues.add(lines.size());
            lines.add(pieces.get(k));
        }
    }

    /** The line in pieces of at most {@link #MAX_PIECE_CHARS}, never splitting a surrogate pair; blank lines have none. */
    static List<String> pieces(String line) {
        if (line.isEmpty()) return List.of();
        List<String> out = new ArrayList<>();
        int from = 0;
        while (line.length() - from > MAX_PIECE_CHARS) {
            int to = from + MAX_PIECE_CHARS;
            if (Character.isHighSurrogate(line.charAt(to - 1))) to--;
            out.add(line.substring(from, to));
            from = to;
        }
        out.add(line.substring(from));
        return out;
    }

    /** The largest prefix length that does not end inside a UTF-8 sequence. */
    private static int utf8Boundary(byte[] b, int length) {
        int end = length;
        int back = 0;
        while (end > 0 && back < 3 && (b[end - 1] & 0xC0) == 0x80) {
            end--;
            back++;
        }
        if (end > 0 && (b[end - 1] & 0x80) != 0) {
            int lead = b[end - 1] & 0xFF;
            int need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            if (need == back + 1) return length; // the sequence is complete
            return end - 1;
        }
        return length;
    }

    private static long parse(String digits) {
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }
}
