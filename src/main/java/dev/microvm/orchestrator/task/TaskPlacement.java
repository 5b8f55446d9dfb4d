package dev.microvm.orchestrator.task;

import io.vertx.core.Future;

import java.util.Optional;

/**
 * Where a task runs. A single host runs every task itself ({@link #local()}); a cluster member plugs
 * in a placement that may run a task on another host and keep its home record here.
 */
public interface TaskPlacement {

    /** Where a validated new record runs: empty → here (the task manager enqueues it); a record → it was placed on another host and this is its home record. */
    Future<Optional<TaskRecord>> place(TaskRecord record);

    /** Recovery of an unfinished record naming another node: true → this placement follows it and the task manager leaves it alone; false → recovered here as a local task. */
    Future<Boolean> follow(TaskRecord record);

    /** Runs every task here. */
    static TaskPlacement local() {
        return Local.INSTANCE;
    }

    /** The placement of a host on its own. */
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
