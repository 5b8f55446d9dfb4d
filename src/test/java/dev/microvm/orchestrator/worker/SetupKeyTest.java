package dev.microvm.orchestrator.worker;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** The setup key changes with each thing setup depends on, and with nothing else. */
class SetupKeyTest {

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static Map<String, Optional<byte[]>> inputs(String lock) {
        Map<String, Optional<byte[]>> m = new LinkedHashMap<>();
        m.put("package-lock.json", lock == null ? Optional.empty() : Optional.of(b(lock)));
        return m;
    }

    @Test
    void theKeyDependsOnTheEnvironmentTheInputsTheImageAndTheArchitecture() {
        String base = WarmSlots.setupKey(b("{\"setup\":[\"npm ci\"]}"), inputs("v1"), "img-1", "x86_64");
        assertThat(WarmSlots.setupKey(b("{\"setup\":[\"npm ci\"]}"), inputs("v1"), "img-1", "x86_64")).isEqualTo(base).hasSize(64);
        assertThat(WarmSlots.setupKey(b("{\"setup\":[\"npm i\"]}"), inputs("v1"), "img-1", "x86_64")).isNotEqualTo(base);
        assertThat(WarmSlots.setupKey(b("{\"setup\":[\"npm ci\"]}"), inputs("v2"), "img-1", "x86_64")).isNotEqualTo(base);
        assertThat(WarmSlots.setupKey(b("{\"setup\":[\"npm ci\"]}"), inputs(null), "img-1", "x86_64")).isNotEqualTo(base);
        assertThat(WarmSlots.setupKey(b("{\"setup\":[\"npm ci\"]}"), inputs(""), "img-1", "x86_64"))
                .as("an empty input is not an absent one").isNotEqualTo(WarmSlots.setupKey(b("{\"setup\":[\"npm ci\"]}"), inputs(null), "img-1", "x86_64"));
        assertThat(WarmSlots.setupKey(b("{\"setup\":[\"npm ci\"]}"), inputs("v1"), "img-2", "x86_64")).isNotEqualTo(base);
        assertThat(WarmSlots.setupKey(b("{\"setup\":[\"npm ci\"]}"), inputs("v1"), "img-1", "aarch64")).isNotEqualTo(base);
    }

    @Test
    void lengthPrefixesKeepNeighbouringPartsFromBlurring() {
        assertThat(WarmSlots.setupKey(b("ab"), inputs("c"), "i", "x86_64")).isNotEqualTo(WarmSlots.setupKey(b("a"), inputs("bc"), "i", "x86_64"));
    }
}
