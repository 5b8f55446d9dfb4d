package dev.microvm.orchestrator.secrets;

import java.util.List;
import java.util.Locale;

/**
 * Approximate list prices in US dollars per million tokens, by model family, used only to show
 * the user what a task costs. They are not billing data: prices change, discounts and batch or
 * regional pricing are ignored, and an unknown model is priced like the Sonnet family. Cache
 * writes are priced at 1.25 × input (5-minute cache), cache reads at 0.1 × input.
 */
public final class PriceTable {

    record Price(String match, double inputPerMillion, double outputPerMillion) {}

    /** First match wins; more specific names first. */
    private static final List<Price> PRICES = List.of(
            new Price("opus-4-0", 15, 75),
            new Price("opus-4-1", 15, 75),
            new Price("opus-4-2025", 15, 75),
            new Price("3-opus", 15, 75),
            new Price("opus", 5, 25),
            new Price("haiku-3-5", 0.8, 4),
            new Price("3-5-haiku", 0.8, 4),
            new Price("3-haiku", 0.25, 1.25),
            new Price("haiku", 1, 5),
            new Price("sonnet", 3, 15));

    private static final Price DEFAULT = new Price("", 3, 15);

    private PriceTable() {}

    public static double costUsd(String model, long input, long output, long cacheWrite, long cacheRead) {
        Price p = priceFor(model);
        double cost = input * p.inputPerMillion()
                + output * p.outputPerMillion()
                + cacheWrite * p.inputPerMillion() * 1.25
                + cacheRead * p.inputPerMillion() * 0.1;
        return cost / 1_000_000.0;
    }

    static Price priceFor(String model) {
        if (model == null) return DEFAULT;
        String m = model.toLowerCase(Locale.ROOT);
        for (Price p : PRICES) {
            if (m.contains(p.match())) return p;
        }
        return DEFAULT;
    }
}
