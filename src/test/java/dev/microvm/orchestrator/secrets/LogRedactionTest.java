package dev.microvm.orchestrator.secrets;

import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** Uses the shipped logback.xml: what reaches stderr has no credential in it. */
class LogRedactionTest {

    private static final Logger LOG = LoggerFactory.getLogger(LogRedactionTest.class);

    @Test
    void logMessagesAndStackTracesAreRedactedOnStderr() {
        Secret real = Secret.of("canary-real-key-7f3a9c01d2");
        Redactor.global().register(real);
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            LOG.info("calling upstream with {}", real.reveal());
            LOG.warn("header x-api-key: {}", "sk-ant-api03-neverregistered123");
            LOG.error("request failed", new IllegalStateException("bad credential " + real.reveal()));
        } finally {
            System.setErr(original);
            Redactor.global().unregister(real);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        assertThat(out).contains("calling upstream with [redacted]");
        assertThat(out).contains("IllegalStateException: bad credential [redacted]");
        assertThat(out).contains("at dev.microvm.orchestrator.secrets.LogRedactionTest");
        assertThat(out.split("IllegalStateException", -1)).as("stack trace written once").hasSize(2);
        assertThat(out).doesNotContain("canary-real-key").doesNotContain("neverregistered");
    }
}
