package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.task.TaskRecord;
import io.vertx.core.json.JsonObject;

import java.util.OptionalLong;

/** Task records, their events and task ownership: the file I/O behind the worker pool's io executor. */
public interface RecordOperations {

    /** An event to append to the durable log and publish, after its record (if any) is written. */
    record Event(String type, String taskId, JsonObject data) {}

    /**
     * Writes {@code record} (when not null; compare-and-swap on its revision), then appends and
     * publishes {@code event} (when not null). Refused as {@code request_expired} after
     * {@code acceptBefore} (epoch ms, null: no limit) and as {@code stale_record} when the disk
     * already holds the same or a newer revision; nothing is written then.
     *
     * @return the event's sequence number, empty without an event
     */
    OptionalLong persist(TaskRecord record, Event event, Long acceptBefore);

    /** True when this process owns the task now (already or newly). */
    boolean own(String taskId);

    /** Drops the owner lock and whatever this process keeps in memory for the task. */
    void disown(String taskId);
}
