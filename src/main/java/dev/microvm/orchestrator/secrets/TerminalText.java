package dev.microvm.orchestrator.secrets;

import java.util.regex.Pattern;

/** Turns what a terminal program wrote into plain lines: escape sequences out, carriage returns as line ends. */
final class TerminalText {

    /** OSC (ESC ] ... BEL or ESC \), e.g. hyperlinks and window titles; also the 8-bit form 0x9D. */
    private static final Pattern OSC = Pattern.compile("(?:\\x1b\\]|\\x9d)[^\\x07\\x1b\\x9c]*(?:\\x07|\\x1b\\\\|\\x9c)?");
    /** CSI (ESC [ params final), e.g. colours and cursor movement; also the 8-bit form 0x9B. */
    private static final Pattern CSI = Pattern.compile("(?:\\x1b\\[|\\x9b)[0-?]*[ -/]*[@-~]");
    /** Any other two-character escape (ESC followed by one byte), e.g. ESC 7, ESC ( B. */
    private static final Pattern OTHER_ESCAPE = Pattern.compile("\\x1b[ -/]*[0-~]");
    /** Remaining control characters other than newline and tab. */
    private static final Pattern CONTROL = Pattern.compile("[\\x00-\\x08\\x0b-\\x1f\\x7f]");

    private TerminalText() {}

    static String stripEscapes(String s) {
        String out = OSC.matcher(s).replaceAll("");
        out = CSI.matcher(out).replaceAll("");
        out = OTHER_ESCAPE.matcher(out).replaceAll("");
        out = out.replace("\r\n", "\n").replace('\r', '\n');
        return CONTROL.matcher(out).replaceAll("");
    }

    /** Characters a wrapped token may be framed by: spaces and the vertical bars of a box. */
    static String trimFrame(String line) {
        int start = 0;
        int end = line.length();
        while (start < end && isFrame(line.charAt(start))) start++;
        while (end > start && isFrame(line.charAt(end - 1))) end--;
        return line.substring(start, end);
    }

    private static boolean isFrame(char c) {
        return Character.isWhitespace(c) || c == '\u2502' || c == '\u2503' || c == '\u2551' || c == '|';
    }
}
