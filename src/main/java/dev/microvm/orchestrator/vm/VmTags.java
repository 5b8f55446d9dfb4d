package dev.microvm.orchestrator.vm;

import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every hypervisor process carries the tag {@code mvo-vm-<name>} in its arguments, so one whose
 * handle was never persisted (crash between spawn and persist) is still found on the host.
 */
public final class VmTags {
    public static final String TAG_PREFIX = "mvo-vm-";
    private static final Pattern TAG = Pattern.compile(Pattern.quote(TAG_PREFIX) + "(" + VmSpec.NAME.pattern() + ")");
    /** Start time, then pid: orders a process before its forks. */
    private static final Comparator<ProcessHandle> START_ORDER = Comparator
            .comparing((ProcessHandle ph) -> ph.info().startInstant().orElse(Instant.MAX))
            .thenComparingLong(ProcessHandle::pid);

    private VmTags() {}

    public static String tag(String vmName) {
        return TAG_PREFIX + vmName;
    }

    /** The VM name tagged in {@code args}, if any. */
    static Optional<String> vmNameIn(List<String> args) {
        for (String a : args) {
            Matcher m = TAG.matcher(a);
            if (m.find()) return Optional.of(m.group(1));
        }
        return Optional.empty();
    }

    /**
     * The process of each VM whose name starts with {@code namePrefix}, among those {@code isVm}
     * accepts. A hypervisor's own forks (a shell runner's subshells, a child between fork and exec)
     * carry its arguments too; the VM is the first process that carried them.
     */
    static Map<String, ProcessHandle> firstTagged(String namePrefix, BiPredicate<ProcessHandle, List<String>> isVm) {
        Map<String, ProcessHandle> first = new HashMap<>();
        ProcessHandle.allProcesses().forEach(ph -> {
            List<String> args = ProcessIdentity.arguments(ph);
            Optional<String> vmName = vmNameIn(args).filter(n -> n.startsWith(namePrefix));
            if (vmName.isEmpty() || !isVm.test(ph, args)) return;
            first.merge(vmName.get(), ph, (a, b) -> START_ORDER.compare(a, b) <= 0 ? a : b);
        });
        return first;
    }
}
