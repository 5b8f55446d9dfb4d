package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.util.JsonSchema;
import dev.microvm.orchestrator.util.JsonSchemas;
import io.modelcontextprotocol.spec.McpSchema;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The MCP tool definitions (names, descriptions, input and output JSON schemas, annotations),
 * kept as data in {@code mcp/tools.json} so the contract can be read in one place. A tool that
 * takes task options names their schema ({@code "options": "task-options.schema.json"}) and
 * advertises its properties as its own. Every call's arguments are checked against the input
 * schema the tool advertises ({@link #violations}). Every tool carries
 * {@code _meta: {"anthropic/alwaysLoad": true}} so Claude Code lists it directly instead of hiding
 * it behind tool search. A tool's {@code guest_notes} add sentences to its description according to
 * what the default guest image offers ({@link GuestFeatures}).
 */
public final class ToolCatalog {

    static final String RESOURCE = "/mcp/tools.json";
    static final Map<String, Object> ALWAYS_LOAD = Map.of("anthropic/alwaysLoad", true);

    private final Map<String, McpSchema.Tool> tools;
    private final Map<String, JsonSchema> inputs;

    private ToolCatalog(Map<String, McpSchema.Tool> tools, Map<String, JsonSchema> inputs) {
        this.tools = tools;
        this.inputs = inputs;
    }

    /** The catalog when nothing is known about the guest image: descriptions promise nothing it may lack. */
    public static ToolCatalog load() {
        return load(GuestFeatures.unknown());
    }

    /** The catalog whose descriptions say what the default guest image offers ({@code guest_notes}). */
    public static ToolCatalog load(GuestFeatures guest) {
        try (InputStream in = ToolCatalog.class.getResourceAsStream(RESOURCE)) {
            if (in == null) throw new IllegalStateException("missing resource " + RESOURCE);
            return parse(new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8)), guest);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ToolCatalog parse(JsonObject doc, GuestFeatures guest) {
        JsonObject defs = doc.getJsonObject("definitions", new JsonObject());
        Map<String, McpSchema.Tool> tools = new LinkedHashMap<>();
        Map<String, JsonSchema> inputs = new LinkedHashMap<>();
        for (Object o : doc.getJsonArray("tools")) {
            JsonObject def = (JsonObject) o;
            JsonObject annotations = def.getJsonObject("annotations", new JsonObject());
            JsonObject input = inputSchema(def.getJsonObject("input"), defs);
            inputs.put(def.getString("name"), JsonSchemas.of("mcp-tool:" + def.getString("name"), input, "argument"));
            McpSchema.Tool tool = McpSchema.Tool.builder()
                    .name(def.getString("name"))
                    .title(def.getString("title"))
                    .description(description(def, guest))
                    .inputSchema(PlainJson.toMap(input))
                    .outputSchema(PlainJson.toMap(outputSchema(def.getJsonObject("output"))))
                    .annotations(new McpSchema.ToolAnnotations(def.getString("title"),
                            annotations.getBoolean("readOnlyHint"), annotations.getBoolean("destructiveHint"),
                            annotations.getBoolean("idempotentHint"), annotations.getBoolean("openWorldHint"), null))
                    .meta(ALWAYS_LOAD)
                    .build();
            tools.put(tool.name(), tool);
        }
        return new ToolCatalog(tools, inputs);
    }

    public McpSchema.Tool tool(String name) {
        McpSchema.Tool tool = tools.get(name);
        if (tool == null) throw new IllegalArgumentException("no tool definition named " + name);
        return tool;
    }

    /** What is wrong with the arguments of a call to tool {@code name}; empty when they conform. */
    List<String> violations(String name, JsonObject arguments) {
        tool(name);
        return inputs.get(name).violations(arguments, name);
    }

    public List<String> names() {
        return new ArrayList<>(tools.keySet());
    }

    /**
     * A tool's description and, once the guest image is known, the sentence its {@code guest_notes}
     * give for each feature: {@code with} when the image offers it, {@code without} (if any) when
     * not. Nothing is added when the image is unknown.
     */
    private static String description(JsonObject def, GuestFeatures guest) {
        StringBuilder text = new StringBuilder(def.getString("description"));
        if (!guest.known()) return text.toString();
        JsonObject notes = def.getJsonObject("guest_notes", new JsonObject());
        for (String feature : notes.fieldNames()) {
            String sentence = notes.getJsonObject(feature).getString(guest.has(feature) ? "with" : "without");
            if (sentence != null) text.append(' ').append(sentence);
        }
        return text.toString();
    }

    /** Inputs are closed objects: a misspelt option is an error the caller sees, not silently ignored. */
    private static JsonObject inputSchema(JsonObject input, JsonObject defs) {
        JsonObject properties = new JsonObject();
        input.getJsonObject("properties", new JsonObject()).forEach(e ->
                properties.put(e.getKey(), resolve((JsonObject) e.getValue(), defs)));
        String options = input.getString("options");
        if (options != null) properties.mergeIn(JsonSchemas.resource(options).getJsonObject("properties"));
        return new JsonObject().put("type", "object").put("properties", properties)
                .put("required", input.getJsonArray("required", new JsonArray()))
                .put("additionalProperties", false);
    }

    /** Outputs stay open: replies from newer nodes may carry fields this version does not know. */
    private static JsonObject outputSchema(JsonObject output) {
        return new JsonObject().put("type", "object")
                .put("properties", output.getJsonObject("properties", new JsonObject()))
                .put("required", output.getJsonArray("required", new JsonArray()))
                .put("additionalProperties", true);
    }

    private static JsonObject resolve(JsonObject property, JsonObject defs) {
        String ref = property.getString("$ref");
        return ref == null ? property : defs.getJsonObject(ref).copy();
    }
}
