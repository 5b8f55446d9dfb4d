package dev.microvm.orchestrator.task;

import io.vertx.core.Future;

import java.util.Optional;

/**
 * Where tasks run: a plug-in of the task manager. Local by default; a cluster supplies its own.
 * Called on the task manager's context; an implementation that talks to other verticles does so
 * over the event bus.
 */
public interface TaskPlacement {

    /**
     * Where a validated new record runs: empty → here (the task manager enqueues it); a record → it was placed on another host and this is its home record.
     * A failed future: the task runs here (the failure is logged). While this runs, the task manager keeps the id out of the adoption sweep.
     */
    Future<Optional<TaskRecord>> place(TaskRecord record);

    /**
     * Recovery of an unfinished record naming another node: true → this placement follows it and the task manager leaves it alone; false → recovered here as a local task.
     * A failed future means "not now" (e.g. the placement's own verticles are not up yet): the task is left for the next adoption sweep.
     */
    Future<Boolean> follow(TaskRecord record);

    /** Runs every task here. */
    static TaskPlacement local() {
        return Local.INSTANCE;
    }

    /** Every task runs on this host; records naming another node are recovered here. */
    enum Local implements TaskPlacement {
        INSTANCE;

        @Override
        public Future<Optional<TaskRecord>> place(TaskRecord record) {
            return Future.succeededFuture(Optional.empty());
        }

        @Override
        public Future<Boolean> follow(TaskRecord record) {
            return Future.succeededFuture(false);
        }
    }
}
