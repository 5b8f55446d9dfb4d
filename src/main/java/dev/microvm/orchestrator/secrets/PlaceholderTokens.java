package dev.microvm.orchestrator.secrets;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The per-task placeholder keys the guests present to the API proxy. A placeholder is worthless
 * outside this host: it opens only the proxy, only for its own task, only until unregistered.
 * It is shaped like an API key ({@code sk-ant-api03-...}) so Claude Code accepts it and the
 * {@link Redactor}'s generic pattern masks it too.
 */
final class PlaceholderTokens {

    static final String PREFIX = "sk-ant-api03-mvo-";
    private static final int MIN_LENGTH = 40;

    private final SecureRandom random = new SecureRandom();
    private final Map<String, Secret> byTask = new ConcurrentHashMap<>();

    /** Issues a fresh placeholder for the task, or re-registers {@code existing} (after a restart). */
    Secret register(String taskId, String existing) {
        Secret token;
        if (existing != null) {
            if (existing.length() < MIN_LENGTH || !existing.startsWith(PREFIX)) {
                throw new IllegalArgumentException("not a placeholder issued by this proxy");
            }
            token = Secret.of(existing);
        } else {
            byte[] bytes = new byte[32];
            random.nextBytes(bytes);
            token = Secret.of(PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes));
        }
        byTask.put(taskId, token);
        return token;
    }

    Optional<Secret> unregister(String taskId) {
        return Optional.ofNullable(byTask.remove(taskId));
    }

    /**
     * The task a presented token belongs to. Every registration is compared in constant time, so
     * the answer's timing says nothing about how close a guess was.
     */
    Optional<String> taskFor(String presented) {
        if (presented == null || presented.isEmpty()) return Optional.empty();
        String found = null;
        for (Map.Entry<String, Secret> e : byTask.entrySet()) {
            if (e.getValue().matches(presented)) found = e.getKey();
        }
        return Optional.ofNullable(found);
    }
}
