package dev.microvm.orchestrator.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class EnvironmentTest {

    @TempDir Path tmp;

    @Test
    void everyKeyIsReadAndTheHashIgnoresKeyOrder() {
        Environment e = Environment.parse("""
                {"setup": ["npm ci"], "env": {"B": "2", "A": "1"}, "secrets": ["NPM_TOKEN"],
                 "cache": ["node_modules", "~/.npm"], "setup_inputs": ["package-lock.json"], "nix_develop": false}""", "f");
        assertThat(e.setup()).containsExactly("npm ci");
        assertThat(e.env()).containsExactly(Map.entry("A", "1"), Map.entry("B", "2"));
        assertThat(e.secrets()).containsExactly("NPM_TOKEN");
        assertThat(e.cache()).containsExactly("node_modules", "~/.npm");
        assertThat(e.setupInputs()).containsExactly("package-lock.json");
        assertThat(e.nixDevelop()).isFalse();
        Environment reordered = Environment.parse("""
                {"nix_develop": false, "setup_inputs": ["package-lock.json"], "cache": ["node_modules", "~/.npm"],
                 "secrets": ["NPM_TOKEN"], "env": {"A": "1", "B": "2"}, "setup": ["npm ci"]}""", "f");
        assertThat(reordered.sha256()).isEqualTo(e.sha256());
        assertThat(Environment.fromJson(e.toJson())).isEqualTo(e);
        assertThat(Environment.parse("{}", "f").isEmpty()).isTrue();
        assertThat(Environment.none().nixDevelop()).isNull();
    }

    @Test
    void errorsNameTheFileAndTheField() {
        assertThatThrownBy(() -> Environment.parse("{\"setup\": \"npm ci\"}", ".microvm/environment.json at commit abc"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(".microvm/environment.json at commit abc").hasMessageContaining("setup");
        assertThatThrownBy(() -> Environment.parse("{\"setups\": []}", "F")).hasMessageContaining("F").hasMessageContaining("setups");
        assertThatThrownBy(() -> Environment.parse("{\"env\": {\"MVO_TASK_ID\": \"x\"}}", "F")).hasMessageContaining("env");
        assertThatThrownBy(() -> Environment.parse("{\"env\": {\"1X\": \"x\"}}", "F")).hasMessageContaining("env");
        assertThatThrownBy(() -> Environment.parse("{\"secrets\": [\"a-b\"]}", "F")).hasMessageContaining("secrets");
        assertThatThrownBy(() -> Environment.parse("{\"cache\": [\"/abs\"]}", "F")).hasMessageContaining("cache");
        assertThatThrownBy(() -> Environment.parse("{\"cache\": [\"a/../../b\"]}", "F")).hasMessageContaining("cache");
        assertThatThrownBy(() -> Environment.parse("{\"setup_inputs\": [\"~/x\"]}", "F")).hasMessageContaining("setup_inputs");
        assertThatThrownBy(() -> Environment.parse("{\"nix_develop\": \"yes\"}", "F")).hasMessageContaining("nix_develop");
        assertThatThrownBy(() -> Environment.parse("[1]", "F")).hasMessageStartingWith("F: not a JSON object");
        assertThatThrownBy(() -> Environment.parse("{", "F")).hasMessageStartingWith("F: not a JSON object");
    }

    @Test
    void theHostsEnvironmentIsCheckedWhenSetAndStoredInTheStateDirectory() throws Exception {
        StatePaths paths = new StatePaths(tmp.resolve("state"));
        HostEnvironments host = new HostEnvironments(paths);
        Path bad = Files.writeString(tmp.resolve("bad.json"), "{\"setup\": [1]}");
        assertThatThrownBy(() -> host.set("app", bad)).hasMessageContaining(bad.toString()).hasMessageContaining("setup");
        assertThat(host.get("app")).isEmpty();
        Path good = Files.writeString(tmp.resolve("good.json"), "{\"setup\": [\"make\"], \"env\": {\"CI\": \"1\"}}");
        host.set("app", good);
        assertThat(host.get("app")).get().extracting(Environment::setup).isEqualTo(List.of("make"));
        assertThat(paths.hostEnvironment("app")).startsWith(paths.root());
        assertThatThrownBy(() -> paths.hostEnvironment("../x")).isInstanceOf(IllegalArgumentException.class);
        assertThat(host.remove("app")).isTrue();
        assertThat(host.get("app")).isEmpty();
    }
}
