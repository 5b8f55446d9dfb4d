package dev.microvm.orchestrator.slot;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.EventSink;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The only code that hands out slots. FIFO queue when all are busy (never an error); repository
 * affinity (a repository goes back to the slot it used last, for warm caches); host-wide exclusion
 * through {@link SlotLocks}. Slots freed by other processes are noticed by polling while the queue
 * is not empty. A slot is handed over in two steps (offer, then the requester takes it), so a
 * requester that has gone never keeps a slot locked.
 */
public final class SlotAllocatorVerticle extends VerticleBase {

    private static final long POLL_MS = 500;

    private final StatePaths paths;
    private final int slotCount;
    private final Predicate<String> taskUnfinished;
    private final EventSink events;
    private SlotLocks locks;
    private final Deque<Pending> queue = new ArrayDeque<>();
    private boolean pumping;
    private boolean pumpAgain;
    private long pollTimer = -1;

    private record Pending(String taskId, String repoKey, Integer preferredSlot, Message<JsonObject> msg) {}

    public SlotAllocatorVerticle(StatePaths paths, int slotCount, Predicate<String> taskUnfinished, EventSink events) {
        this.paths = paths;
        this.slotCount = slotCount;
        this.taskUnfinished = taskUnfinished;
        this.events = events;
    }

    @Override
    public Future<?> start() {
        locks = new SlotLocks(paths, taskUnfinished);
        var bus = vertx.eventBus();
        return Future.all(List.of(
                bus.<JsonObject>localConsumer(Addresses.SLOT_ACQUIRE, this::onAcquire).completion(),
                bus.<JsonObject>localConsumer(Addresses.SLOT_RELEASE, this::onRelease).completion(),
                bus.<JsonObject>localConsumer(Addresses.SLOT_DEQUEUE, this::onDequeue).completion(),
                bus.<JsonObject>localConsumer(Addresses.SLOT_LIST, this::onList).completion()));
    }

    @Override
    public Future<?> stop() {
        return vertx.executeBlocking(() -> {
            synchronized (locks) {
                locks.releaseAll();
            }
            return null;
        });
    }

    private void onAcquire(Message<JsonObject> msg) {
        JsonObject b = msg.body();
        String taskId = b.getString("task_id");
        if (taskId == null) {
            msg.fail(400, "task_id is required");
            return;
        }
        queue.addLast(new Pending(taskId, b.getString("repo_key", ""), b.getInteger("slot"), msg));
        pump();
    }

    private void onRelease(Message<JsonObject> msg) {
        String taskId = msg.body().getString("task_id");
        Integer slot = msg.body().getInteger("slot");
        if (taskId == null || slot == null) {
            msg.fail(400, "task_id and slot are required");
            return;
        }
        vertx.executeBlocking(() -> {
            synchronized (locks) {
                return locks.release(slot, taskId);
            }
        }).onComplete(ar -> {
            boolean released = ar.succeeded() && ar.result();
            if (released) events.publish(EventTypes.SLOT, taskId, new JsonObject().put("slot", slot).put("state", "free"));
            msg.reply(new JsonObject().put("released", released));
            pump();
        });
    }

    private void onDequeue(Message<JsonObject> msg) {
        String taskId = msg.body().getString("task_id");
        boolean removed = queue.removeIf(p -> {
            if (!p.taskId().equals(taskId)) return false;
            p.msg().fail(410, "slot request withdrawn");
            return true;
        });
        msg.reply(new JsonObject().put("removed", removed));
    }

    private void onList(Message<JsonObject> msg) {
        List<String> queued = queue.stream().map(Pending::taskId).toList();
        vertx.executeBlocking(() -> {
            JsonArray active = new JsonArray();
            JsonArray available = new JsonArray();
            synchronized (locks) {
                Map<Integer, String> mine = locks.heldByThisProcess();
                for (int n = 0; n < slotCount; n++) {
                    String user = mine.get(n);
                    if (user == null) user = locks.claimant(n).filter(taskUnfinished).orElse(null);
                    if (user != null) active.add(new JsonObject().put("slot", n).put("task_id", user).put("this_process", mine.containsKey(n)));
                    else available.add(n);
                }
            }
            return new JsonObject().put("max_slots", slotCount).put("active", active).put("available", available)
                    .put("queued", new JsonArray(queued)).put("storage", storage());
        }).onComplete(ar -> {
            if (ar.succeeded()) msg.reply(ar.result());
            else msg.fail(500, ar.cause().getMessage());
        });
    }

    /** What each slot keeps, per repository: its cache images and when setup last succeeded there. */
    private JsonArray storage() throws IOException {
        SlotCaches caches = new SlotCaches(paths);
        JsonArray out = new JsonArray();
        for (int n = 0; n < slotCount; n++) {
            JsonArray repos = caches.describe(n);
            if (!repos.isEmpty()) out.add(new JsonObject().put("slot", n).put("repositories", repos));
        }
        return out;
    }

    /** Serves the queue head-first; runs the lock attempts off the event loop. */
    private void pump() {
        if (pumping) {
            pumpAgain = true;
            return;
        }
        if (queue.isEmpty()) return;
        pumping = true;
        pumpAgain = false;
        List<Pending> snapshot = new ArrayList<>(queue);
        vertx.executeBlocking(() -> assign(snapshot), false).onComplete(ar -> {
            pumping = false;
            if (ar.succeeded()) {
                for (Assignment a : ar.result()) {
                    if (queue.remove(a.pending())) offer(a);
                    else giveBack(a); // withdrawn while we were locking
                }
            }
            if (pumpAgain) pump();
            schedulePoll();
        });
    }

    /**
     * Offers a locked slot to its requester; it stays locked for the requester only once it answers
     * {@link Addresses#slotTaken()} in time, and learns it holds the slot from the reply to that answer.
     * A requester that has gone (its request timed out, its
     * task undeployed) never answers: the slot is unlocked and the queue served again.
     */
    private void offer(Assignment a) {
        a.pending().msg().<JsonObject>replyAndRequest(new JsonObject().put("slot", a.slot()),
                new DeliveryOptions().setSendTimeout(Addresses.SLOT_OFFER_MS)).onComplete(ack -> {
            if (ack.succeeded() && ack.result().body() != null && ack.result().body().getBoolean("taken", false)) {
                ack.result().reply(new JsonObject().put("slot", a.slot())); // confirmed: the requester may use it
                events.publish(EventTypes.SLOT, a.pending().taskId(), new JsonObject().put("slot", a.slot()).put("state", "busy"));
            } else {
                giveBack(a).onComplete(v -> pump());
            }
        });
    }

    private Future<Boolean> giveBack(Assignment a) {
        return vertx.executeBlocking(() -> {
            synchronized (locks) {
                return locks.release(a.slot(), a.pending().taskId());
            }
        });
    }

    private record Assignment(Pending pending, int slot) {}

    private List<Assignment> assign(List<Pending> pendings) throws IOException {
        List<Assignment> out = new ArrayList<>();
        synchronized (locks) {
            for (Pending p : pendings) {
                Integer slot = findSlot(p);
                if (slot == null) {
                    if (p.preferredSlot() != null) continue; // a recovery waits for its own slot only
                    break; // strict FIFO: nobody overtakes the head
                }
                rememberRepo(slot, p.repoKey());
                out.add(new Assignment(p, slot));
            }
        }
        return out;
    }

    private Integer findSlot(Pending p) {
        if (p.preferredSlot() != null) {
            int s = p.preferredSlot();
            return s >= 0 && s < slotCount && locks.tryAcquire(s, p.taskId()) ? s : null;
        }
        List<Integer> order = new ArrayList<>();
        for (int n = 0; n < slotCount; n++) order.add(n);
        order.sort(Comparator.comparingInt(n -> affinityRank(n, p.repoKey())));
        for (int n : order) {
            if (locks.tryAcquire(n, p.taskId())) return n;
        }
        return null;
    }

    /** 0: this repository used the slot last; 1: slot never used; 2: used by another repository. */
    private int affinityRank(int n, String repoKey) {
        String last = lastRepo(n);
        if (last == null) return 1;
        return last.equals(repoKey) ? 0 : 2;
    }

    private String lastRepo(int n) {
        try {
            Path f = paths.slotDir(n).resolve("last_repo");
            return Files.isRegularFile(f) ? Files.readString(f).trim() : null;
        } catch (IOException e) {
            return null;
        }
    }

    private void rememberRepo(int n, String repoKey) throws IOException {
        if (repoKey == null || repoKey.isEmpty()) return;
        dev.microvm.orchestrator.util.AtomicFiles.write(paths.slotDir(n).resolve("last_repo"), repoKey);
    }

    private void schedulePoll() {
        if (queue.isEmpty() || pollTimer >= 0) return;
        pollTimer = vertx.setTimer(POLL_MS, id -> {
            pollTimer = -1;
            pump();
        });
    }
}
