package dev.microvm.orchestrator.secrets;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Scrubs credentials out of text and JSON before it reaches a log, an event, a WebSocket frame, a
 * task record or an MCP result. It removes every value registered with {@link #register(Secret)}
 * (the real key, the per-task placeholder tokens) and, even for values it was never told about,
 * anything shaped like an Anthropic key ({@code sk-ant-...}) or the value of an authorization
 * header.
 *
 * <p>Thread-safe. {@link #global()} is the process-wide instance the logging configuration uses;
 * components take a {@code Redactor} through their constructor and are normally given that one.
 */
public final class Redactor {

    public static final String MASK = "[redacted]";

    /** Known values shorter than this are not registered: masking them would shred ordinary text. */
    static final int MIN_SECRET_LENGTH = 8;

    private static final Pattern ANTHROPIC_KEY = Pattern.compile("sk-ant-[A-Za-z0-9_-]{6,}");
    private static final Pattern AUTH_HEADER = Pattern.compile(
            "(?i)((?:authorization|proxy-authorization)[\"']?\\s*[:=]\\s*[\"']?(?:bearer|basic)?\\s*)[^\\s\"',;}]+");
    private static final Pattern API_KEY_FIELD = Pattern.compile(
            "(?i)((?:x-api-key|api[_-]?key|oauth[_-]?token|access[_-]?token)[\"']?\\s*[:=]\\s*[\"']?)[^\\s\"',;}]+");

    private static final Redactor GLOBAL = new Redactor();

    private final Set<String> known = ConcurrentHashMap.newKeySet();

    public static Redactor global() {
        return GLOBAL;
    }

    /** From now on every occurrence of this secret is masked. */
    public void register(Secret secret) {
        String v = secret.reveal();
        if (v.length() >= MIN_SECRET_LENGTH) known.add(v);
    }

    /** Stops masking a secret that is no longer in use (a finished task's placeholder). */
    public void unregister(Secret secret) {
        known.remove(secret.reveal());
    }

    public String redact(String text) {
        if (text == null || text.isEmpty()) return text;
        String out = text;
        if (!known.isEmpty()) {
            // Longest first, so a secret that contains another one is masked whole.
            String[] values = known.toArray(String[]::new);
            java.util.Arrays.sort(values, java.util.Comparator.comparingInt(String::length).reversed());
            for (String value : values) {
                if (out.contains(value)) out = out.replace(value, MASK);
            }
        }
        out = ANTHROPIC_KEY.matcher(out).replaceAll(MASK);
        out = replaceValue(AUTH_HEADER, out);
        out = replaceValue(API_KEY_FIELD, out);
        return out;
    }

    /** A deep copy with every string value (and key) scrubbed; the input is left unchanged. */
    public JsonObject redact(JsonObject json) {
        if (json == null) return null;
        JsonObject out = new JsonObject();
        for (Map.Entry<String, Object> e : json) {
            String key = e.getKey();
            if (isCredentialFieldName(key) && e.getValue() instanceof String) {
                out.put(redact(key), MASK);
            } else {
                out.put(redact(key), redactValue(e.getValue()));
            }
        }
        return out;
    }

    public JsonArray redact(JsonArray array) {
        if (array == null) return null;
        JsonArray out = new JsonArray();
        for (Object v : array) out.add(redactValue(v));
        return out;
    }

    private Object redactValue(Object v) {
        if (v instanceof String s) return redact(s);
        if (v instanceof JsonObject o) return redact(o);
        if (v instanceof JsonArray a) return redact(a);
        if (v instanceof Map<?, ?> m) return redact(new JsonObject(castMap(m)));
        if (v instanceof Secret) return MASK;
        return v;
    }

    private static boolean isCredentialFieldName(String key) {
        String k = key.toLowerCase().replace('-', '_');
        return k.equals("authorization") || k.equals("x_api_key") || k.equals("api_key")
                || k.equals("oauth_token") || k.equals("access_token") || k.equals("token");
    }

    private static String replaceValue(Pattern p, String text) {
        Matcher m = p.matcher(text);
        if (!m.find()) return text;
        StringBuilder b = new StringBuilder();
        do {
            String value = m.group(0).substring(m.group(1).length());
            String replacement = value.equals(MASK) ? m.group(0) : m.group(1) + MASK;
            m.appendReplacement(b, Matcher.quoteReplacement(replacement));
        } while (m.find());
        m.appendTail(b);
        return b.toString();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> castMap(Map<?, ?> m) {
        return (Map<String, Object>) m;
    }
}
