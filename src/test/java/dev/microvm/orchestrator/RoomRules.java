package dev.microvm.orchestrator;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.CompositeArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import com.tngtech.archunit.lang.syntax.elements.GivenClassesConjunction;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;

/**
 * ARCHITECTURE.md's "Which room may use which", as ArchUnit rules over the packages under
 * {@code root} (the product's base package; a test fixture uses its own). A room is a top-level
 * package; {@code vm.qemu} and {@code vm.vfkit} are rooms of their own for the driver rules.
 */
final class RoomRules {

    static final List<String> FRONTS = List.of("cli", "mcp", "stream");
    static final List<String> CORE = List.of("task", "slot", "worker", "vm", "git", "config", "events", "secrets", "util");

    private final String root;

    RoomRules(String root) {
        this.root = root;
    }

    /** The fronts reach the core through node/: no other core room, and not node itself, imports a front. */
    ArchRule otherCoreRoomsImportNoFront(String... knownViolations) {
        List<String> rooms = List.of("vm", "git", "config", "events", "secrets", "util", "node");
        return rule(String.join(", ", rooms) + " import no front", rooms, FRONTS, knownViolations);
    }

    ArchRule taskAndSlotImportNoFront(String... knownViolations) {
        return rule("task and slot import no front", List.of("task", "slot"), FRONTS, knownViolations);
    }

    ArchRule workerImportsNoFront(String... knownViolations) {
        return rule("worker imports no front", List.of("worker"), FRONTS, knownViolations);
    }

    /** Only the kernel classes of the event log are off limits; event types are shared kernel. */
    ArchRule secretsPublishThroughTheNodesSink(String... knownViolations) {
        return classesIn(List.of("secrets")).should(notDependOn(
                "the event log directly (publish through node/EventSink)",
                c -> Set.of(root + ".events.EventLog", root + ".events.EventIndex", root + ".events.EventRetention",
                        root + ".events.EventRetentionVerticle").contains(outer(c)), knownViolations));
    }

    /** config sits below the lifecycle and below every room that reads it. */
    ArchRule configSitsBelowTheLifecycle(String... knownViolations) {
        return rule("config imports no other room but util", List.of("config"),
                concat(FRONTS, List.of("cluster", "node", "task", "slot", "worker", "vm", "git", "events", "secrets")), knownViolations);
    }

    /** Drivers are chosen by configuration and capabilities, never by reaching into one driver's package. */
    ArchRule onlyVmKnowsTheDrivers(String... knownViolations) {
        return classes().that(outside("vm")).should(notDependOn("a specific driver (vm.qemu, vm.vfkit)",
                c -> inRoom(c, "vm.qemu") || inRoom(c, "vm.vfkit"), knownViolations));
    }

    ArchRule vmAndGitAreIndependent(String... knownViolations) {
        ArchRule vmToGit = rule("vm imports nothing from git", List.of("vm"), List.of("git"), knownViolations);
        ArchRule gitToVm = rule("git imports nothing from vm", List.of("git"), List.of("vm"), knownViolations);
        return CompositeArchRule.of(vmToGit).and(gitToVm);
    }

    ArchRule qemuAndVfkitAreIndependent(String... knownViolations) {
        ArchRule a = rule("vm.qemu imports nothing from vm.vfkit", List.of("vm.qemu"), List.of("vm.vfkit"), knownViolations);
        ArchRule b = rule("vm.vfkit imports nothing from vm.qemu", List.of("vm.vfkit"), List.of("vm.qemu"), knownViolations);
        return CompositeArchRule.of(a).and(b);
    }

    ArchRule taskKnowsNoCluster(String... knownViolations) {
        return rule("task imports nothing from cluster", List.of("task"), List.of("cluster"), knownViolations);
    }

    /** Below node, nothing knows the cluster is there. */
    ArchRule coreKnowsNoCluster(String... knownViolations) {
        return rule("the core rooms import nothing from cluster", CORE, List.of("cluster"), knownViolations);
    }

    /**
     * The wire vocabulary of the task lifecycle that a front reads in replies and events: state names
     * (which are terminal) and failure reasons with their codec. Values only; no front drives a task
     * through them.
     */
    static final List<String> LIFECYCLE_VOCABULARY = List.of("task.TaskState", "task.FailureReason", "task.TaskFailure");

    /**
     * mcp and stream see the core only as event-bus addresses (node), the kernel (events), config and
     * the lifecycle's wire vocabulary.
     */
    ArchRule mcpAndStreamReachTheCoreThroughNode(String... knownViolations) {
        ArchRule rooms = rule("mcp and stream import no core room but node, events, config, util, secrets.AccessToken and the lifecycle's vocabulary",
                List.of("mcp", "stream"), List.of("slot", "worker", "vm", "git", "cluster", "cli"), knownViolations);
        ArchRule task = classesIn(List.of("mcp", "stream")).should(notDependOn("task other than its wire vocabulary",
                c -> inRoom(c, "task") && LIFECYCLE_VOCABULARY.stream().noneMatch(v -> outer(c).equals(root + "." + v)), knownViolations));
        return CompositeArchRule.of(rooms).and(task);
    }

    ArchRule mcpAndStreamUseOnlyTheAccessTokenOfSecrets(String... knownViolations) {
        return classesIn(List.of("mcp", "stream")).should(notDependOn("secrets other than AccessToken",
                c -> inRoom(c, "secrets") && !outer(c).equals(root + ".secrets.AccessToken"), knownViolations));
    }

    // ---- building blocks ----

    private ArchRule rule(String description, List<String> from, List<String> to, String... knownViolations) {
        return classesIn(from).should(notDependOn(String.join(", ", to), c -> to.stream().anyMatch(r -> inRoom(c, r)), knownViolations))
                .as(description);
    }

    private GivenClassesConjunction classesIn(List<String> rooms) {
        return classes().that(new DescribedPredicate<>("are in " + rooms) {
            @Override
            public boolean test(JavaClass c) {
                return rooms.stream().anyMatch(r -> inRoom(c, r));
            }
        });
    }

    private DescribedPredicate<JavaClass> outside(String room) {
        return new DescribedPredicate<>("are under " + root + " outside " + room) {
            @Override
            public boolean test(JavaClass c) {
                return c.getPackageName().startsWith(root + ".") && !inRoom(c, room);
            }
        };
    }

    private boolean inRoom(JavaClass c, String room) {
        String pkg = c.getPackageName();
        String p = root + "." + room;
        return pkg.equals(p) || pkg.startsWith(p + ".");
    }

    /**
     * No dependency on a class {@code target} accepts, except the listed known ones, each written
     * {@code "Origin -> Target"} with simple names of top-level classes (a pending change elsewhere
     * removes it; remove it here then).
     */
    private ArchCondition<JavaClass> notDependOn(String what, Predicate<JavaClass> target, String... known) {
        Set<String> allowed = Set.copyOf(Arrays.asList(known));
        return new ArchCondition<>("not depend on " + what) {
            @Override
            public void check(JavaClass c, ConditionEvents events) {
                for (Dependency d : c.getDirectDependenciesFromSelf()) {
                    JavaClass t = d.getTargetClass().getBaseComponentType();
                    if (!target.test(t)) continue;
                    String pair = simple(outer(c)) + " -> " + simple(outer(t));
                    if (allowed.contains(pair)) continue;
                    events.add(SimpleConditionEvent.violated(d, d.getDescription()));
                }
            }
        };
    }

    private static String outer(JavaClass c) {
        String name = c.getName();
        int dollar = name.indexOf('$');
        return dollar < 0 ? name : name.substring(0, dollar);
    }

    private static String simple(String name) {
        return name.substring(name.lastIndexOf('.') + 1);
    }

    private static List<String> concat(List<String> a, List<String> b) {
        return Stream.concat(a.stream(), b.stream()).toList();
    }
}
