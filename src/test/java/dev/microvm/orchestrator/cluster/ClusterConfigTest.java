package dev.microvm.orchestrator.cluster;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ClusterConfigTest {

    private static JsonObject valid() {
        return new JsonObject().put("cluster_name", "lab").put("node_name", "host-a").put("bind_host", "10.0.0.1")
                .put("membership_port", 7800).put("event_bus_port", 7900)
                .put("members", new JsonArray().add("host-a@10.0.0.1:7800").add("host-b@10.0.0.2:7800")).put("certs_dir", "certs");
    }

    @Test
    void aValidFileResolvesItsCertificatesNextToItself() {
        ClusterConfig c = ClusterConfig.fromJson(valid(), Path.of("/etc/mvo"));
        assertThat(c.memberNames()).containsExactly("host-a", "host-b");
        assertThat(c.keyStore()).isEqualTo(Path.of("/etc/mvo/certs/host-a.p12"));
        assertThat(c.caCertificate()).isEqualTo(Path.of("/etc/mvo/certs/ca.crt"));
        assertThat(c.suspectAfterMs()).isEqualTo(ClusterConfig.DEFAULT_SUSPECT_AFTER_MS);
        assertThat(ClusterConfig.fromJson(valid().put("suspect_after_ms", 10_000), Path.of("/")).suspectAfterMs()).isEqualTo(10_000);
    }

    @Test
    void mistakesAreReportedWithWhatToWrite() {
        assertThatThrownBy(() -> ClusterConfig.fromJson(valid().put("bind_host", "0.0.0.0"), Path.of("/")))
                .hasMessageContaining("not a wildcard");
        assertThatThrownBy(() -> ClusterConfig.fromJson(valid().put("members", new JsonArray().add("host-b@10.0.0.2:7800")), Path.of("/")))
                .hasMessageContaining("members must include this node");
        assertThatThrownBy(() -> ClusterConfig.fromJson(valid().put("members", new JsonArray().add("host-a:7800")), Path.of("/")))
                .hasMessageContaining("name@host:port");
        assertThatThrownBy(() -> ClusterConfig.fromJson(valid().put("multicast", true), Path.of("/")))
                .hasMessageContaining("unknown field 'multicast'");
        assertThatThrownBy(() -> ClusterConfig.fromJson(valid().put("node_name", "../x"), Path.of("/")))
                .hasMessageContaining("cluster.json: field 'node_name' must be a name of lowercase letters, digits, dots and dashes");
        assertThatThrownBy(() -> ClusterConfig.fromJson(valid().put("event_bus_port", 7800), Path.of("/")))
                .hasMessageContaining("must differ");
        assertThatThrownBy(() -> ClusterConfig.fromJson(valid().putNull("certs_dir"), Path.of("/")))
                .hasMessageContaining("cluster-certs");
        assertThatThrownBy(() -> ClusterConfig.fromJson(valid().put("suspect_after_ms", 500), Path.of("/")))
                .hasMessageContaining("cluster.json: field 'suspect_after_ms' must be an integer between 2000 and 120000 (got 500)");
    }

    @Test
    void repositoryKeysCannotEscapeTheObjectCache() {
        assertThatThrownBy(() -> new RepoKey("host-a", "..")).hasMessageContaining("alias");
        assertThatThrownBy(() -> new RepoKey("host-a", "a/b")).hasMessageContaining("alias");
        assertThatThrownBy(() -> new RepoKey("../host", "demo")).hasMessageContaining("home host");
        assertThat(new RepoKey("host-a", "demo").toString()).isEqualTo("host-a/demo");
    }
}
