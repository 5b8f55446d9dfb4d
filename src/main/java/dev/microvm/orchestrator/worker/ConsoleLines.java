package dev.microvm.orchestrator.worker;

import java.util.regex.Pattern;

/** Turns raw console output into displayable text: terminal escapes and control characters go, nothing else. */
final class ConsoleLines {

    private static final Pattern ANSI = Pattern.compile("\u001B\\[[0-9;?]*[ -/]*[@-~]|\u001B\\][^\u0007\u001B]*(\u0007|\u001B\\\\)|[\u0000-\u0008\u000B-\u001F\u007F]");

    private ConsoleLines() {}

    /** A whole line: also trimmed. */
    static String clean(String line) {
        return cleanPart(line).strip();
    }

    /** Part of a line that goes on: its spaces are content. */
    static String cleanPart(String text) {
        return ANSI.matcher(text).replaceAll("");
    }
}
