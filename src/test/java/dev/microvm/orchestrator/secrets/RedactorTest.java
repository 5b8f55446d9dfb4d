package dev.microvm.orchestrator.secrets;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class RedactorTest {

    private final Redactor redactor = new Redactor();

    @Test
    void registeredSecretsAreMaskedWherever_theyAppear() {
        redactor.register(Secret.of("placeholder-token-for-task-1"));
        String out = redactor.redact("env ANTHROPIC_API_KEY=placeholder-token-for-task-1;next placeholder-token-for-task-1");
        assertThat(out).doesNotContain("placeholder-token-for-task-1").contains("[redacted]").contains("next");
    }

    @Test
    void unknownAnthropicKeyShapesAreMaskedAnyway() {
        String out = redactor.redact("got sk-ant-api03-AbC_def-123456789 and sk-ant-oat01-XYZxyz0987654321_- here");
        assertThat(out).isEqualTo("got [redacted] and [redacted] here");
    }

    @Test
    void authorizationHeaderValuesAreMasked() {
        assertThat(redactor.redact("Authorization: Bearer abcdef0123456789")).isEqualTo("Authorization: Bearer [redacted]");
        assertThat(redactor.redact("x-api-key: hunter2hunter2")).isEqualTo("x-api-key: [redacted]");
        assertThat(redactor.redact("{\"api_key\":\"hunter2hunter2\"}")).isEqualTo("{\"api_key\":\"[redacted]\"}");
    }

    @Test
    void ordinaryTextIsLeftAlone() {
        String text = "task abc-123 finished: 3 files changed, authorization failed once, sk-ant is a prefix";
        assertThat(redactor.redact(text)).isEqualTo(text);
    }

    @Test
    void aSecretContainingAnotherIsMaskedWhole() {
        redactor.register(Secret.of("abcdefgh"));
        redactor.register(Secret.of("abcdefgh-and-more"));
        assertThat(redactor.redact("x abcdefgh-and-more y")).isEqualTo("x [redacted] y");
    }

    @Test
    void veryShortValuesAreNotRegistered() {
        redactor.register(Secret.of("abc"));
        assertThat(redactor.redact("abcdef")).isEqualTo("abcdef");
    }

    @Test
    void unregisteredSecretsAreNoLongerMasked() {
        Secret s = Secret.of("placeholder-0123456789");
        redactor.register(s);
        redactor.unregister(s);
        assertThat(redactor.redact("placeholder-0123456789")).isEqualTo("placeholder-0123456789");
    }

    @Test
    void jsonIsScrubbedDeeplyAndTheInputIsUntouched() {
        redactor.register(Secret.of("the-real-key-0123456789"));
        JsonObject in = new JsonObject()
                .put("msg", "using the-real-key-0123456789")
                .put("token", "whatever-value")
                .put("nested", new JsonObject().put("list", new JsonArray().add("sk-ant-api03-zzzzzzzzzz").add(7)))
                .put("count", 3);
        JsonObject out = redactor.redact(in);
        String encoded = out.encode();
        assertThat(encoded).doesNotContain("the-real-key").doesNotContain("sk-ant-api03").doesNotContain("whatever-value");
        assertThat(out.getInteger("count")).isEqualTo(3);
        assertThat(out.getJsonObject("nested").getJsonArray("list").getInteger(1)).isEqualTo(7);
        assertThat(in.getString("msg")).contains("the-real-key-0123456789");
    }
}
