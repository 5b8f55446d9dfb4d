package dev.microvm.orchestrator.util;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** One loaded schema (see {@link JsonSchemas}): checks JSON against it and binds it to a record. */
public final class JsonSchema {

    private final Schema schema;
    private final String noun;

    JsonSchema(Schema schema, String noun) {
        this.schema = schema;
        this.noun = noun;
    }

    /**
     * What is wrong with {@code value}, one sentence each, every one naming {@code subject} (the
     * file or tool) and the field; empty when it conforms.
     */
    public List<String> violations(JsonObject value, String subject) {
        Set<String> out = new LinkedHashSet<>();
        for (Error e : schema.validate(JsonSchemas.tree(value))) out.add(subject + ": " + SchemaMessages.describe(e, noun));
        return new ArrayList<>(out);
    }

    /** @throws InvalidJsonException naming every violation */
    public void check(JsonObject value, String subject) {
        List<String> problems = violations(value, subject);
        if (!problems.isEmpty()) throw new InvalidJsonException(String.join("\n", problems));
    }

    /** Checks {@code value}, then binds it to {@code type} with unknown properties refused. */
    public <T> T read(JsonObject value, String subject, Class<T> type) {
        check(value, subject);
        return bind(value, type);
    }

    /** The top-level properties the schema declares. */
    public Set<String> propertyNames() {
        JsonNode properties = schema.getSchemaNode().path("properties");
        Set<String> names = new TreeSet<>();
        properties.fieldNames().forEachRemaining(names::add);
        return names;
    }

    /** The values the schema allows for top-level {@code property} (its {@code enum}). */
    public Set<String> enumValues(String property) {
        Set<String> values = new TreeSet<>();
        schema.getSchemaNode().path("properties").path(property).path("enum").forEach(v -> values.add(v.asText()));
        if (values.isEmpty()) throw new IllegalArgumentException("the schema gives no values for " + property);
        return Set.copyOf(values);
    }

    private static <T> T bind(JsonObject value, Class<T> type) {
        try {
            return JsonSchemas.STRICT.readerFor(type).readValue(JsonSchemas.tree(value));
        } catch (JsonProcessingException e) {
            // a rule the record's constructor enforces (a domain name, a driver) reaches the caller as it was said
            for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
                if (c instanceof IllegalArgumentException refused) throw refused;
            }
            // otherwise the schema let through what the record cannot hold: the two are out of step
            throw new IllegalStateException("schema and " + type.getSimpleName() + " disagree: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** JSON that does not conform to its schema; the message is meant for the person who wrote it. */
    public static final class InvalidJsonException extends IllegalArgumentException {
        InvalidJsonException(String message) {
            super(message);
        }
    }
}
