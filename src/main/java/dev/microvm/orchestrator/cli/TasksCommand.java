package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.task.TaskStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;

@Command(name = "tasks", description = "List tasks recorded in the state directory.")
final class TasksCommand implements Callable<Integer> {

    @Mixin StateOptions state;

    @Override
    public Integer call() {
        for (TaskStore.Entry e : new TaskStore(state.paths()).loadAll()) {
            if (e.record() == null) {
                System.out.println(e.taskId() + "\tdamaged\t" + e.problem());
                continue;
            }
            var r = e.record();
            System.out.println(r.id() + "\t" + r.state().wireName() + "\t" + r.repo() + "\t"
                    + (r.reason() == null ? "" : r.reason() + "\t") + abbreviate(r.description()));
        }
        return 0;
    }

    private static String abbreviate(String s) {
        String one = s == null ? "" : s.replace('\n', ' ');
        return one.length() > 60 ? one.substring(0, 57) + "..." : one;
    }
}
