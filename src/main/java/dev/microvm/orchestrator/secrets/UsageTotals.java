package dev.microvm.orchestrator.secrets;

import io.vertx.core.json.JsonObject;

/** Running totals of one task's API use. Mutated on the proxy's event loop only. */
final class UsageTotals {
    private long requests;
    private long inputTokens;
    private long outputTokens;
    private long cacheCreationInputTokens;
    private long cacheReadInputTokens;
    private double costUsd;

    void add(Usage u) {
        requests++;
        inputTokens += u.inputTokens();
        outputTokens += u.outputTokens();
        cacheCreationInputTokens += u.cacheCreationInputTokens();
        cacheReadInputTokens += u.cacheReadInputTokens();
        costUsd += u.costUsd();
    }

    JsonObject toJson(String taskId) {
        return new JsonObject()
                .put("task_id", taskId)
                .put("requests", requests)
                .put("input_tokens", inputTokens)
                .put("output_tokens", outputTokens)
                .put("cache_creation_input_tokens", cacheCreationInputTokens)
                .put("cache_read_input_tokens", cacheReadInputTokens)
                .put("cost_usd", costUsd)
                .put("cost_is_estimate", true);
    }
}
