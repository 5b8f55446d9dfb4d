package dev.microvm.orchestrator.util;

import com.fasterxml.jackson.databind.JsonNode;
import com.networknt.schema.Error;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.path.NodePath;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Turns a schema violation into a sentence a person can act on: which field, what it must be
 * (read from the schema around the failing keyword, so "between 1 and 64" names both bounds),
 * and what it was. A pattern is described by the {@code title} of the property that has it.
 */
final class SchemaMessages {

    private static final int SHOWN_VALUE_CHARS = 80;

    private SchemaMessages() {}

    static String describe(Error e, String noun) {
        String at = field(e.getInstanceLocation());
        JsonNode around = schemaAround(e.getSchemaLocation());
        return switch (e.getKeyword()) {
            case "additionalProperties" -> "unknown " + noun + " '" + qualified(at, e.getProperty()) + "'; known " + noun + "s: "
                    + String.join(", ", names(around.path("properties")));
            case "required" -> "missing required " + noun + " '" + qualified(at, e.getProperty()) + "'";
            case "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
                 "pattern", "minItems", "maxItems" ->
                    (at.isEmpty() ? "the document" : noun + " '" + at + "'") + " must be " + expectation(around)
                            + " (got " + shown(e.getInstanceNode()) + ")";
            default -> (at.isEmpty() ? "" : noun + " '" + at + "': ") + e.getMessage();
        };
    }

    /** What a value of schema {@code s} must be, as the end of "must be ...". */
    static String expectation(JsonNode s) {
        if (s.has("enum")) {
            List<String> values = new ArrayList<>();
            s.get("enum").forEach(v -> values.add(v.isTextual() ? v.asText() : v.toString()));
            return "one of " + String.join(", ", values);
        }
        return switch (s.path("type").asText()) {
            case "integer" -> "an integer" + range(s);
            case "number" -> "a number" + range(s);
            case "boolean" -> "true or false";
            case "object" -> "a JSON object";
            case "array" -> "a list of " + plural(s.path("items")) + (s.path("items").has("title") ? ", each " + s.path("items").get("title").asText() : "");
            case "string" -> s.has("title") && s.has("pattern") ? s.get("title").asText()
                    : s.has("pattern") ? "a string matching " + s.get("pattern").asText()
                    : text(s);
            default -> s.has("title") ? s.get("title").asText() : "valid";
        };
    }

    private static String plural(JsonNode items) {
        return switch (items.path("type").asText()) {
            case "string" -> items.path("minLength").asInt(0) > 0 ? "non-empty strings" : "strings";
            case "integer" -> "integers";
            case "object" -> "JSON objects";
            default -> "values";
        };
    }

    private static String text(JsonNode s) {
        int min = s.path("minLength").asInt(0);
        if (s.has("maxLength")) return "a string of " + (min > 0 ? min + " to " : "at most ") + s.get("maxLength").asText() + " characters";
        return min > 0 ? "a non-empty string" : "a string";
    }

    private static String range(JsonNode s) {
        boolean min = s.has("minimum");
        boolean max = s.has("maximum");
        if (min && max) return " between " + s.get("minimum").asText() + " and " + s.get("maximum").asText();
        if (min) return " of at least " + s.get("minimum").asText();
        if (max) return " of at most " + s.get("maximum").asText();
        return "";
    }

    /** The (sub)schema that holds the failing keyword, read from the document it came from. */
    private static JsonNode schemaAround(SchemaLocation location) {
        JsonNode node = JsonSchemas.document(location.getAbsoluteIri().toString());
        NodePath keyword = location.getFragment();
        for (int i = 0; i < keyword.getNameCount() - 1; i++) {
            Object step = keyword.getElement(i);
            node = step instanceof Integer index ? node.path(index) : node.path(String.valueOf(step));
        }
        return node;
    }

    /** "untracked_patterns[0]", "limits.cpus"; empty for the document itself. */
    private static String field(NodePath instance) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < instance.getNameCount(); i++) {
            Object step = instance.getElement(i);
            if (step instanceof Integer index) out.append('[').append(index).append(']');
            else out.append(out.isEmpty() ? "" : ".").append(step);
        }
        return out.toString();
    }

    private static String qualified(String at, String property) {
        return at.isEmpty() ? property : at + "." + property;
    }

    private static TreeSet<String> names(JsonNode properties) {
        TreeSet<String> names = new TreeSet<>();
        properties.fieldNames().forEachRemaining(names::add);
        return names;
    }

    private static String shown(JsonNode value) {
        String text = value == null || value.isMissingNode() ? "nothing" : value.toString();
        return text.length() <= SHOWN_VALUE_CHARS ? text : text.substring(0, SHOWN_VALUE_CHARS) + "…";
    }
}
