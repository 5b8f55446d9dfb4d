package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;

import java.util.function.BooleanSupplier;

/**
 * Asks the slot allocator for a slot and takes the offer only while the task still wants it: the
 * allocator offers, the task answers {@link Addresses#slotTaken()}, the allocator confirms. An
 * offer that arrives when the task no longer wants a slot is declined, so the slot goes to the next
 * request; an answer that came too late (the offer was withdrawn) means asking again.
 */
final class SlotRequest {
    private SlotRequest() {}

    /** The slot now held for {@code body.task_id}; fails if the request fails or the task stopped wanting one. */
    static Future<Integer> acquire(Vertx vertx, JsonObject body, long timeoutMs, BooleanSupplier wanted) {
        return vertx.eventBus().<JsonObject>request(Addresses.SLOT_ACQUIRE, body, new DeliveryOptions().setSendTimeout(timeoutMs))
                .compose(offer -> {
                    if (!wanted.getAsBoolean()) {
                        offer.fail(410, "the task no longer needs a slot");
                        return Future.failedFuture(new TaskFailure(FailureReason.CANCELLED, "the task no longer needs a slot"));
                    }
                    return offer.<JsonObject>replyAndRequest(Addresses.slotTaken(), new DeliveryOptions().setSendTimeout(Addresses.SLOT_OFFER_MS))
                            .transform(confirmed -> confirmed.succeeded()
                                    ? Future.succeededFuture(confirmed.result().body().getInteger("slot"))
                                    : acquire(vertx, body, timeoutMs, wanted)); // the offer was withdrawn meanwhile
                });
    }
}
