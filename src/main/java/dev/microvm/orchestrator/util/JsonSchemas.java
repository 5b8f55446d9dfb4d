package dev.microvm.orchestrator.util;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The one validation path for JSON a person or a client writes: MCP tool arguments, task options,
 * repository defaults, {@code config.json}. Schemas are JSON Schema 2020-12 files under
 * {@code resources/schemas/} (checked with the networknt validator); adding one is adding a file
 * and calling {@link #load}. Values are then bound to records with Jackson, unknown properties
 * refused, so a schema and its record cannot drift apart silently.
 */
public final class JsonSchemas {

    static final String DIRECTORY = "schemas/";
    private static final String CLASSPATH = "classpath:";

    static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);

    /** Binds validated JSON to records: strict, so a property the record lacks is a bug, not a silent drop. */
    static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .build();

    private static final Map<String, JsonSchema> LOADED = new ConcurrentHashMap<>();
    private static final Map<String, JsonNode> DOCUMENTS = new ConcurrentHashMap<>();

    private JsonSchemas() {}

    /**
     * The schema {@code resources/schemas/<name>}.
     *
     * @param noun what one property is called in messages ("configuration key", "option")
     */
    public static JsonSchema load(String name, String noun) {
        return LOADED.computeIfAbsent(name + "\0" + noun, k -> {
            SchemaLocation location = SchemaLocation.of(CLASSPATH + DIRECTORY + name);
            return new JsonSchema(REGISTRY.getSchema(location, document(location.getAbsoluteIri().toString())), noun);
        });
    }

    /** A schema built in memory (an MCP tool's input schema), identified by {@code id} in its messages' lookups. */
    public static JsonSchema of(String id, JsonObject schema, String noun) {
        JsonNode node = tree(schema);
        String iri = "urn:microvm-orchestrator:" + id;
        DOCUMENTS.put(iri, node);
        return new JsonSchema(REGISTRY.getSchema(SchemaLocation.of(iri), node), noun);
    }

    /** The text of {@code resources/schemas/<name>}, for code that builds other schemas from it. */
    public static JsonObject resource(String name) {
        return new JsonObject(document(CLASSPATH + DIRECTORY + name).toString());
    }

    /** A schema document by its IRI: a classpath resource, or one registered by {@link #of}. */
    static JsonNode document(String iri) {
        return DOCUMENTS.computeIfAbsent(iri, k -> {
            if (!k.startsWith(CLASSPATH)) throw new IllegalStateException("unknown schema document " + k);
            String path = k.substring(CLASSPATH.length());
            try (InputStream in = JsonSchemas.class.getClassLoader().getResourceAsStream(path)) {
                if (in == null) throw new IllegalStateException("missing schema resource " + path);
                return STRICT.readTree(in);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read schema resource " + path, e);
            }
        });
    }

    /** A record as JSON, under the same Jackson names it is read with. */
    public static JsonObject toJson(Object value) {
        return new JsonObject(STRICT.convertValue(value, new TypeReference<Map<String, Object>>() {}));
    }

    static JsonNode tree(JsonObject json) {
        try {
            return STRICT.readTree(json.encode());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a Vert.x JSON object that Jackson cannot read", e);
        }
    }
}
