package dev.microvm.orchestrator.worker;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WarmEnvironmentTest {

    private static WarmEnvironment parse(String json) {
        return WarmEnvironment.parse(json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void setupCacheAndSetupInputsAreReadAndOtherKeysLeftToTheEnvironment() {
        WarmEnvironment e = parse("{\"setup\": [\"npm ci\"], \"cache\": [\"node_modules\", \"~/.npm\"], \"setup_inputs\": [\"package-lock.json\"], \"env\": {\"A\": \"1\"}}");
        assertThat(e.setup()).containsExactly("npm ci");
        assertThat(e.cache()).containsExactly("node_modules", "~/.npm");
        assertThat(e.setupInputs()).containsExactly("package-lock.json");
        assertThat(parse("{}").isEmpty()).isTrue();
    }

    @Test
    void cachePathsStayInsideTheWorkspaceOrTheAgentsHome() {
        for (String ok : new String[] {"node_modules", "~/.cache/pip", "a/b", ".venv", "~/.m2/repository"}) {
            assertThat(WarmEnvironment.isCachePath(ok)).as(ok).isTrue();
        }
        for (String bad : new String[] {"", "~/", "/etc", "~/../root", "a/../../b", "./x", "a//b", "a/", "x\ny", "~//etc", "..", "a/."}) {
            assertThat(WarmEnvironment.isCachePath(bad)).as(bad).isFalse();
        }
    }

    @Test
    void aBadFileIsRefusedNamingTheFileAndTheField() {
        assertThatThrownBy(() -> parse("{\"cache\": [\"../up\"]}")).isInstanceOf(WorkerFailure.class)
                .hasMessageContaining(".microvm/environment.json: cache[0]").hasMessageContaining("'../up'");
        assertThatThrownBy(() -> parse("{\"setup\": \"npm ci\"}")).hasMessageContaining(".microvm/environment.json: setup must be an array");
        assertThatThrownBy(() -> parse("{\"setup_inputs\": [1]}")).hasMessageContaining("setup_inputs[0] must be a non-empty string");
        assertThatThrownBy(() -> parse("[1]")).hasMessageContaining(".microvm/environment.json: is not a JSON object");
    }
}
