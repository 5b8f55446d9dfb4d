package dev.microvm.orchestrator.secrets;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Passes a child's terminal output through to the user as it arrives (so prompts such as "paste
 * the code" show up at once) while masking the token it prints, including the pieces of a token
 * the terminal wrapped onto following lines. Text that could be the start of a token is held back
 * until its line is complete.
 *
 * <p>Not thread-safe: one reader thread feeds it.
 */
final class TokenMaskingEcho {

    private static final Pattern TOKEN_CHARS = Pattern.compile("[A-Za-z0-9_-]+");

    private final OutputStream out;
    private final StringBuilder line = new StringBuilder();
    /** Characters of {@link #line} already written. */
    private int emitted;
    /** The previous line ended with a token, so this one may be its wrapped remainder. */
    private boolean afterToken;
    /** Displayed width of the line the token started on: a wrapped continuation fills the same width. */
    private int tokenLineWidth;

    TokenMaskingEcho(OutputStream out) {
        this.out = out;
    }

    void accept(String chunk) throws IOException {
        for (int i = 0; i < chunk.length(); i++) {
            char c = chunk.charAt(i);
            if (c == '\n') {
                finishLine();
            } else {
                line.append(c);
            }
        }
        emitSafePrefix();
        out.flush();
    }

    void close() throws IOException {
        if (!line.isEmpty()) finishLine();
        out.flush();
    }

    private void finishLine() throws IOException {
        String rest = line.substring(emitted);
        String plain = TerminalText.trimFrame(TerminalText.stripEscapes(line.toString()));
        String masked;
        if (afterToken && !plain.isEmpty() && TOKEN_CHARS.matcher(plain).matches() && !plain.startsWith("sk-ant-")) {
            masked = Redactor.MASK; // wrapped remainder of the token
            afterToken = width(line.toString()) >= tokenLineWidth;
        } else {
            boolean hasToken = TokenExtractor.TOKEN_START.matcher(plain).find();
            // colour changes inside a token would split it for the pattern: mask the plain text instead
            masked = hasToken ? TokenExtractor.TOKEN_START.matcher(TerminalText.stripEscapes(rest)).replaceAll(Redactor.MASK) : rest;
            // a token that runs to the end of its line may continue on the next one
            tokenLineWidth = width(line.toString());
            afterToken = hasToken && endsWithToken(plain) && tokenLineWidth >= TokenExtractor.MIN_WRAP_WIDTH;
        }
        write(masked + "\n");
        line.setLength(0);
        emitted = 0;
    }

    /**
     * Writes what cannot be part of a token yet: everything before the trailing run of token
     * characters and escape-sequence characters (a colour code may sit in front of or inside a token).
     */
    private void emitSafePrefix() throws IOException {
        if (afterToken) return; // the whole line may be a token remainder
        int safe = line.length();
        while (safe > emitted && isHeldBack(line.charAt(safe - 1))) safe--;
        int tokenStart = line.indexOf("sk-ant-", emitted);
        if (tokenStart >= 0) safe = Math.min(safe, tokenStart); // the token's line is written once it is complete
        if (safe > emitted) {
            write(line.substring(emitted, safe));
            emitted = safe;
        }
    }

    private static int width(String raw) {
        return TerminalText.stripEscapes(raw).stripTrailing().length();
    }

    private static boolean endsWithToken(String plain) {
        var m = TokenExtractor.TOKEN_START.matcher(plain);
        int end = -1;
        while (m.find()) end = m.end();
        return end == plain.length();
    }

    private static boolean isHeldBack(char c) {
        return c == '\u001b' || c == '[' || c == ';' || c == '?' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-';
    }

    private void write(String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
    }
}
