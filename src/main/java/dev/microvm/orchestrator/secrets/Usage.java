package dev.microvm.orchestrator.secrets;

import io.vertx.core.json.JsonObject;

/** Tokens one API response consumed, as the API reported them, and their approximate cost. */
public record Usage(String model, long inputTokens, long outputTokens, long cacheCreationInputTokens,
                    long cacheReadInputTokens) {

    public double costUsd() {
        return PriceTable.costUsd(model, inputTokens, outputTokens, cacheCreationInputTokens, cacheReadInputTokens);
    }

    public JsonObject toJson() {
        JsonObject json = new JsonObject();
        if (model != null) json.put("model", model);
        return json.put("input_tokens", inputTokens)
                .put("output_tokens", outputTokens)
                .put("cache_creation_input_tokens", cacheCreationInputTokens)
                .put("cache_read_input_tokens", cacheReadInputTokens)
                .put("cost_usd", costUsd());
    }
}
