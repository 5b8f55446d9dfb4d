package dev.microvm.orchestrator.secrets;

import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.constraints.IntRange;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class TokenMaskingEchoTest {

    @Provide
    Arbitrary<String> fixtures() {
        return Arbitraries.of("wide-terminal-ansi.txt", "wrapped-80-crlf.txt", "boxed-wrapped.txt", "label-wrapped-80-then-word.txt");
    }

    /** However the output is split into reads, no piece of the token reaches the user's screen. */
    @Property(tries = 60)
    void noPieceOfTheTokenIsEchoed(@ForAll @From("fixtures") String fixture, @ForAll @IntRange(min = 1, max = 97) int seed) throws Exception {
        String output = TokenExtractorTest.fixture(fixture);
        String token = TokenExtractorTest.expectedToken();
        ByteArrayOutputStream screen = new ByteArrayOutputStream();
        TokenMaskingEcho echo = new TokenMaskingEcho(screen);
        Random random = new Random(seed);
        for (int i = 0; i < output.length(); ) {
            int n = 1 + random.nextInt(40);
            echo.accept(output.substring(i, Math.min(output.length(), i + n)));
            i += n;
        }
        echo.close();
        String shown = TerminalText.stripEscapes(screen.toString(StandardCharsets.UTF_8));
        for (int i = 0; i + 12 <= token.length() - 13; i += 6) {
            String piece = token.substring(13 + i, 13 + i + 12);
            assertThat(shown).as("piece %s of the token", piece).doesNotContain(piece);
        }
        assertThat(shown).contains("[redacted]");
        String lastLine = output.strip().lines().reduce((a, b) -> b).map(TerminalText::stripEscapes).orElseThrow().strip();
        assertThat(shown).as("text around the token is still shown").contains(lastLine);
    }

    @org.junit.jupiter.api.Test
    void aPromptWithoutNewlineIsShownAtOnce() throws Exception {
        ByteArrayOutputStream screen = new ByteArrayOutputStream();
        TokenMaskingEcho echo = new TokenMaskingEcho(screen);
        echo.accept("Paste code here if prompted > ");
        assertThat(screen.toString(StandardCharsets.UTF_8)).isEqualTo("Paste code here if prompted > ");
    }
}
