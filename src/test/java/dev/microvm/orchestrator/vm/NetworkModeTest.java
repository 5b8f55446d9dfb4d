package dev.microvm.orchestrator.vm;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** Each network mode carries out one of the policies a task may ask for, by the name the task uses. */
class NetworkModeTest {

    @Test
    void everyModeNamesAPolicyOfTheTaskOptionsSchemaAndEveryPolicyHasAMode() throws Exception {
        JsonObject schema;
        try (InputStream in = NetworkModeTest.class.getResourceAsStream("/schemas/task-options.schema.json")) {
            schema = new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        var policies = schema.getJsonObject("properties").getJsonObject("network").getJsonArray("enum").getList();
        assertThat(Arrays.stream(VmSpec.Network.Mode.values()).map(VmSpec.Network.Mode::policy))
                .containsExactlyInAnyOrderElementsOf(policies.stream().map(String::valueOf).toList());
        assertThat(VmSpec.Network.Mode.NAT.policy()).isEqualTo("full");
    }
}
