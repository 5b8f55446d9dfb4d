package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.git.CommitFiles;
import dev.microvm.orchestrator.git.GitTaskException;
import dev.microvm.orchestrator.task.FailureReason;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What warm slots need of a repository's environment ({@code .microvm/environment.json}): the
 * {@code setup} commands, the {@code cache} paths, the {@code setup_inputs} files, and the file's
 * exact bytes (part of the setup key). Other keys are the environment's own business and ignored here.
 *
 * @param source the environment file as stored, empty when the repository has none
 */
record WarmEnvironment(List<String> setup, List<String> cache, List<String> setupInputs, byte[] source) {

    static final String FILE = ".microvm/environment.json";
    private static final Pattern CONTROL = Pattern.compile("[\\u0000-\\u001f]");

    WarmEnvironment {
        setup = List.copyOf(setup);
        cache = List.copyOf(cache);
        setupInputs = List.copyOf(setupInputs);
        source = source.clone();
    }

    static WarmEnvironment none() {
        return new WarmEnvironment(List.of(), List.of(), List.of(), new byte[0]);
    }

    boolean isEmpty() {
        return setup.isEmpty() && cache.isEmpty();
    }

    /** The environment file at {@code commit} of the user's repository; none when it has no such file. */
    static WarmEnvironment at(Path userRepo, String commit) {
        try {
            return CommitFiles.read(userRepo, commit, List.of(FILE), WarmSlots.MAX_INPUT_BYTES).get(FILE)
                    .map(WarmEnvironment::parse).orElse(none());
        } catch (GitTaskException e) {
            throw WorkerFailure.of(e);
        }
    }

    /** Parses the file's bytes; a problem names the file and the field. */
    static WarmEnvironment parse(byte[] bytes) {
        JsonObject j;
        try {
            j = new JsonObject(new String(bytes, StandardCharsets.UTF_8));
        } catch (DecodeException | ClassCastException e) {
            throw invalid("is not a JSON object: " + e.getMessage());
        }
        List<String> cache = strings(j, "cache");
        for (int i = 0; i < cache.size(); i++) {
            String p = cache.get(i);
            if (!isCachePath(p)) {
                throw invalid("cache[" + i + "] must be a relative path in the workspace or ~/path under the agent's home, "
                        + "without empty, '.' or '..' steps; it was '" + CONTROL.matcher(p).replaceAll("?") + "'");
            }
        }
        return new WarmEnvironment(strings(j, "setup"), cache, strings(j, "setup_inputs"), bytes);
    }

    /** "~/x" (under the agent's HOME) or "x" (in the workspace): relative, no empty, "." or ".." step, no control character. */
    static boolean isCachePath(String p) {
        String rel = p.startsWith("~/") ? p.substring(2) : p;
        if (rel.isEmpty() || CONTROL.matcher(rel).find()) return false;
        for (String step : rel.split("/", -1)) {
            if (step.isEmpty() || step.equals(".") || step.equals("..")) return false;
        }
        return true;
    }

    private static List<String> strings(JsonObject j, String field) {
        Object v = j.getValue(field);
        if (v == null) return List.of();
        if (!(v instanceof JsonArray a)) throw invalid(field + " must be an array of strings");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            if (!(a.getValue(i) instanceof String s) || s.isEmpty()) throw invalid(field + "[" + i + "] must be a non-empty string");
            out.add(s);
        }
        return out;
    }

    private static WorkerFailure invalid(String what) {
        return new WorkerFailure(FailureReason.PREPARE_FAILED, FILE + ": " + what);
    }
}
