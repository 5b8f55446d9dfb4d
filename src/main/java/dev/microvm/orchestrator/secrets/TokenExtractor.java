package dev.microvm.orchestrator.secrets;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds the token in the noisy terminal output of {@code claude setup-token}: colour codes,
 * hyperlinks, spinners and a token that the terminal wrapped over several lines.
 *
 * <p>Rules: escape sequences are removed; the first {@code sk-ant-oat...} token (else the first
 * {@code sk-ant-...}) is taken; when it runs to the end of its line, the following lines are
 * appended while they consist only of token characters, with no blank line between. A wrapped
 * line fills the terminal, so once a continuation is shorter than the first line, the token has
 * ended. The result must look like a token or nothing is returned.
 */
public final class TokenExtractor {

    static final Pattern TOKEN_START = Pattern.compile("sk-ant-[A-Za-z0-9_-]+");
    private static final Pattern OAUTH_START = Pattern.compile("sk-ant-oat[A-Za-z0-9_-]+");
    private static final Pattern TOKEN_CHARS = Pattern.compile("[A-Za-z0-9_-]+");
    private static final Pattern WHOLE_TOKEN = Pattern.compile("sk-ant-[a-z]+[0-9]*-[A-Za-z0-9_-]{20,}");
    /** Narrower than any terminal that would wrap a token: a token ending before here was not wrapped. */
    static final int MIN_WRAP_WIDTH = 40;

    private TokenExtractor() {}

    public static Optional<String> extract(String output) {
        String[] lines = TerminalText.stripEscapes(output).split("\n", -1);
        Optional<String> token = extract(lines, OAUTH_START);
        return token.isPresent() ? token : extract(lines, TOKEN_START);
    }

    private static Optional<String> extract(String[] lines, Pattern start) {
        for (int i = 0; i < lines.length; i++) {
            String line = TerminalText.trimFrame(lines[i]);
            Matcher m = start.matcher(line);
            if (!m.find()) continue;
            StringBuilder token = new StringBuilder(m.group());
            int width = rawWidth(lines[i]);
            boolean mayContinue = m.end() == line.length() && width >= MIN_WRAP_WIDTH;
            for (int j = i + 1; mayContinue && j < lines.length; j++) {
                String next = TerminalText.trimFrame(lines[j]);
                if (next.isEmpty() || !TOKEN_CHARS.matcher(next).matches() || next.startsWith("sk-ant-")) break;
                token.append(next);
                mayContinue = rawWidth(lines[j]) >= width;
            }
            String candidate = token.toString();
            return WHOLE_TOKEN.matcher(candidate).matches() ? Optional.of(candidate) : Optional.empty();
        }
        return Optional.empty();
    }

    /** Width of a line as displayed, without trailing spaces a terminal pads with. */
    private static int rawWidth(String line) {
        return line.stripTrailing().length();
    }
}
