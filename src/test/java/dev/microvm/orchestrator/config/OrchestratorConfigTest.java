package dev.microvm.orchestrator.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class OrchestratorConfigTest {

    @TempDir Path tmp;

    private StatePaths paths() throws Exception {
        StatePaths paths = new StatePaths(tmp.resolve("state"));
        Files.createDirectories(paths.root());
        return paths;
    }

    private OrchestratorConfig load(String json) throws Exception {
        StatePaths paths = paths();
        Files.writeString(paths.configFile(), json);
        return OrchestratorConfig.load(paths);
    }

    static Stream<Arguments> badConfigs() {
        return Stream.of(
                Arguments.of("{\"slots\": \"four\"}", "config.json: configuration key 'slots' must be an integer between 1 and 256 (got \"four\")"),
                Arguments.of("{\"slots\": 0}", "configuration key 'slots' must be an integer between 1 and 256 (got 0)"),
                Arguments.of("{\"vm_cpus\": 65}", "configuration key 'vm_cpus' must be an integer between 1 and 64 (got 65)"),
                Arguments.of("{\"vm_memory_mib\": 100}", "configuration key 'vm_memory_mib' must be an integer between 256 and 262144 (got 100)"),
                Arguments.of("{\"accelerator\": \"xen\"}", "configuration key 'accelerator' must be one of auto, kvm, tcg, hvf (got \"xen\")"),
                Arguments.of("{\"boot_timeout_seconds\": 7200}", "configuration key 'boot_timeout_seconds' must be an integer between 1 and 3600 (got 7200)"),
                Arguments.of("{\"stop_grace_seconds\": -1}", "configuration key 'stop_grace_seconds' must be an integer between 0 and 600 (got -1)"),
                Arguments.of("{\"http_host\": \" \"}", "configuration key 'http_host' must be a host name or address (not empty) (got \" \")"),
                Arguments.of("{\"http_port\": 70000}", "configuration key 'http_port' must be an integer between 0 and 65535 (got 70000)"),
                Arguments.of("{\"default_merge_strategy\": \"rebase\"}", "configuration key 'default_merge_strategy' must be one of auto, branch, none (got \"rebase\")"),
                Arguments.of("{\"default_network\": \"open\"}", "configuration key 'default_network' must be one of full, allowlist, api-only, none (got \"open\")"),
                Arguments.of("{\"max_bundle_bytes\": 10}", "configuration key 'max_bundle_bytes' must be an integer of at least 1024 (got 10)"),
                Arguments.of("{\"credential_mode\": \"env\"}", "configuration key 'credential_mode' must be one of proxy, file (got \"env\")"),
                Arguments.of("{\"event_retention_bytes\": -5}", "configuration key 'event_retention_bytes' must be an integer of at least 0 (got -5)"),
                Arguments.of("{\"allowed_domains\": \"example.com\"}", "configuration key 'allowed_domains' must be a list of non-empty strings (got \"example.com\")"),
                Arguments.of("{\"allowed_domains\": [\"10.1.2.3\"]}", "allowed_domains in config.json: '10.1.2.3' is an IP address"),
                Arguments.of("{\"driver\": 3}", "configuration key 'driver' must be a non-empty string (got 3)"),
                Arguments.of("{\"driver\": \"Xen!\"}", "driver must be a driver name such as qemu or vfkit"),
                Arguments.of("{\"vfkit_binary\": \"/opt/my vfkit\"}", "configuration key 'vfkit_binary' must be an absolute path or a command name, without spaces or commas (got \"/opt/my vfkit\")"),
                Arguments.of("{\"slot\": 2}", "config.json: unknown configuration key 'slot'; known configuration keys: accelerator, allowed_domains, api_proxy_port"),
                Arguments.of("[1, 2]", "is not valid JSON"));
    }

    @ParameterizedTest(name = "{0} is refused with: {1}")
    @MethodSource("badConfigs")
    void everyBadConfigIsRefusedWithAMessageNamingTheFileAndTheKey(String json, String message) {
        assertThatThrownBy(() -> load(json)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(message);
    }

    @Test
    void keysOverrideTheDefaultsAndEverythingElseStays() throws Exception {
        OrchestratorConfig config = load("""
                {"slots": 3, "driver": "process", "guest_dir": "images/a:b", "default_network": "allowlist",
                 "allowed_domains": ["*.PyPI.org"], "event_retention_bytes": 1048576}""");
        OrchestratorConfig defaults = OrchestratorConfig.defaults(tmp);
        assertThat(config.slots()).isEqualTo(3);
        assertThat(config.driver()).isEqualTo("process");
        assertThat(config.guestDir()).isEqualTo(Path.of("images/a:b").toAbsolutePath());
        assertThat(config.allowedDomains()).containsExactly("*.pypi.org");
        assertThat(config.eventRetentionBytes()).isEqualTo(1_048_576L);
        assertThat(config.httpPort()).isEqualTo(defaults.httpPort());
        assertThat(config.apiUpstream()).isEqualTo(defaults.apiUpstream());
        assertThat(config.vfkitBinary()).isEqualTo("vfkit");
        assertThat(load("{\"vfkit_binary\": \"/opt/homebrew/bin/vfkit\"}").vfkitBinary()).isEqualTo("/opt/homebrew/bin/vfkit");
    }

    @Test
    void theCommandLineIsNamedWhenItsOverrideIsBad() throws Exception {
        OrchestratorConfig config = OrchestratorConfig.load(paths());
        assertThatThrownBy(() -> config.merge(new JsonObject().put("http_port", "auto"), "command line"))
                .hasMessage("command line: configuration key 'http_port' must be an integer between 0 and 65535 (got \"auto\")");
        assertThat(config.merge(new JsonObject().put("http_port", 0), "command line").httpPort()).isZero();
    }

    @Test
    void theJsonFormIsTheSchemasKeysAndReadsBackUnchanged() throws Exception {
        OrchestratorConfig config = OrchestratorConfig.defaults(tmp).merge(new JsonObject().put("allowed_domains", new JsonArray().add("example.com")), "test");
        JsonObject json = config.toJson();
        assertThat(json.fieldNames()).containsExactlyInAnyOrderElementsOf(OrchestratorConfig.SCHEMA.propertyNames());
        assertThat(json.getString("guest_dir")).isEqualTo(config.guestDir().toString());
        assertThat(OrchestratorConfig.defaults(tmp).merge(json, "test")).isEqualTo(config);
    }

    @Test
    void noFileMeansTheHostDefaults() throws Exception {
        assertThat(OrchestratorConfig.load(paths())).isEqualTo(OrchestratorConfig.defaults(tmp));
    }
}
