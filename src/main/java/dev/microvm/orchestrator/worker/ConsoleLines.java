package dev.microvm.orchestrator.worker;

import java.util.regex.Pattern;

/** Turns raw console output into displayable lines. */
final class ConsoleLines {

    private static final Pattern ANSI = Pattern.compile("\u001B\\[[0-9;?]*[ -/]*[@-~]|\u001B\\][^\u0007\u001B]*(\u0007|\u001B\\\\)|[\u0000-\u0008\u000B-\u001F\u007F]");

    private ConsoleLines() {}

    static String clean(String line) {
        String s = ANSI.matcher(line).replaceAll("");
        return s.length() > 2000 ? s.substring(0, 2000) + "..." : s.strip();
    }
}
