package dev.microvm.orchestrator.config;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.microvm.orchestrator.util.JsonSchema;
import dev.microvm.orchestrator.util.JsonSchemas;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A repository's environment: {@code .microvm/environment.json} at the commit a task starts from,
 * or the host's override ({@code allow --environment FILE}). Checked against
 * {@code environment.schema.json}; the record holds no secret values, only the names of host-granted
 * secrets, so it may be recorded and shown.
 *
 * @param setup       shell commands run before the agent, as the agent user, in the workspace
 * @param env         variables for setup and for the agent
 * @param secrets     names of host-side secrets setup needs
 * @param cache       paths kept between tasks ({@code ~/...} under the agent's HOME, relative in the workspace)
 * @param setupInputs workspace files whose contents decide whether setup must run again
 * @param nixDevelop  run the agent inside {@code nix develop}; null: the default (a flake with a devShell)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Environment(
        @JsonProperty("setup") List<String> setup,
        @JsonProperty("env") Map<String, String> env,
        @JsonProperty("secrets") List<String> secrets,
        @JsonProperty("cache") List<String> cache,
        @JsonProperty("setup_inputs") List<String> setupInputs,
        @JsonProperty("nix_develop") Boolean nixDevelop) {

    /** The file's path inside the repository. */
    public static final String FILE = ".microvm/environment.json";

    private static final JsonSchema SCHEMA = JsonSchemas.load("environment.schema.json", "environment key");

    public Environment {
        setup = setup == null ? List.of() : List.copyOf(setup);
        env = env == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(env));
        secrets = secrets == null ? List.of() : List.copyOf(secrets);
        cache = cache == null ? List.of() : List.copyOf(cache);
        setupInputs = setupInputs == null ? List.of() : List.copyOf(setupInputs);
    }

    /** No environment: nothing to set up. */
    public static Environment none() {
        return new Environment(null, null, null, null, null, null);
    }

    /**
     * Parses and checks the text of an environment file.
     *
     * @param subject names the file in every message (a path, or "FILE at commit abc123")
     * @throws IllegalArgumentException naming the file and the field
     */
    public static Environment parse(String text, String subject) {
        JsonObject json;
        try {
            json = new JsonObject(text);
        } catch (DecodeException | ClassCastException e) {
            throw new IllegalArgumentException(subject + ": not a JSON object (" + firstLine(e.getMessage()) + ")");
        }
        return SCHEMA.read(json, subject, Environment.class);
    }

    public static Environment fromJson(JsonObject json) {
        return SCHEMA.read(json, "recorded environment", Environment.class);
    }

    public JsonObject toJson() {
        return JsonSchemas.toJson(this);
    }

    @JsonIgnore
    public boolean isEmpty() {
        return setup.isEmpty() && env.isEmpty() && secrets.isEmpty() && cache.isEmpty() && setupInputs.isEmpty() && nixDevelop == null;
    }

    /** SHA-256 of the canonical JSON (sorted keys): the same environment hashes the same wherever it came from. */
    public String sha256() {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(canonical().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private String canonical() {
        Map<String, Object> sorted = new TreeMap<>(toJson().getMap());
        return new JsonObject(sorted).encode();
    }

    private static String firstLine(String s) {
        if (s == null) return "unreadable";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
