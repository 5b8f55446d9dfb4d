package dev.microvm.orchestrator.secrets;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** Recorded-style outputs of {@code claude setup-token} under src/test/resources/secrets/setup-token. */
class TokenExtractorTest {

    static String fixture(String name) throws IOException {
        try (InputStream in = TokenExtractorTest.class.getResourceAsStream("/secrets/setup-token/" + name)) {
            assertThat(in).as("fixture %s", name).isNotNull();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    static String expectedToken() throws IOException {
        return fixture("expected-token.txt").strip();
    }

    @ParameterizedTest
    @ValueSource(strings = {"wide-terminal-ansi.txt", "wrapped-80-crlf.txt", "boxed-wrapped.txt", "label-wrapped-80-then-word.txt"})
    void theTokenIsFoundInNoisyOutput(String fixture) throws IOException {
        assertThat(TokenExtractor.extract(fixture(fixture))).contains(expectedToken());
    }

    @Test
    void outputWithoutATokenYieldsNothing() throws IOException {
        assertThat(TokenExtractor.extract(fixture("no-token.txt"))).isEmpty();
        assertThat(TokenExtractor.extract("")).isEmpty();
    }

    @Test
    void trailingTextOnTheSameLineIsNotPartOfTheToken() {
        String token = "sk-ant-oat01-abcdefghijklmnopqrstuvwxyz0123456789AA";
        assertThat(TokenExtractor.extract("token " + token + " (valid for 1 year)\nnext\n")).contains(token);
        assertThat(TokenExtractor.extract("\u001b[33m" + token + "\u001b[0m, keep it safe")).contains(token);
    }

    @Test
    void aShortTokenLineIsNotJoinedWithTheFollowingWord() {
        String token = "sk-ant-oat01-abcdefghij0123456789AA";
        assertThat(TokenExtractor.extract(token + "\nDone\n")).contains(token);
    }

    @Test
    void anOauthTokenIsPreferredOverOtherKeyShapesMentionedEarlier() {
        String token = "sk-ant-oat01-abcdefghijklmnopqrstuvwxyz0123456789AA";
        String out = "Found existing ANTHROPIC_API_KEY sk-ant-api03-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz which will be ignored\n" + token + "\n";
        assertThat(TokenExtractor.extract(out)).contains(token);
    }

    @Test
    void aTokenSplitByAWrapIsRejoinedExactly() {
        String token = "sk-ant-oat01-" + "x".repeat(60) + "-" + "Y".repeat(30) + "AA";
        String wrapped = token.substring(0, 80) + "\n" + token.substring(80) + "\n\nStore this token securely.\n";
        assertThat(TokenExtractor.extract(wrapped)).contains(token);
    }

    @Test
    void escapeSequencesOfAllKindsAreIgnored() {
        String token = "sk-ant-oat01-abcdefghijklmnopqrstuvwxyz0123456789AA";
        String out = "\u001b]0;claude\u0007\u001b[?2004h\u001b7\u001b[1;32m" + token.substring(0, 20) + "\u001b[0m" + token.substring(20) + "\u001b8\n";
        assertThat(TokenExtractor.extract(out)).contains(token);
    }
}
