package dev.microvm.orchestrator.task;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Why a task or a request failed: the stable codes users and tools see. Records on disk and events
 * hold the {@link #wireName()}; over the event bus a failure carries its {@link #code()} as the
 * reply's failure code ({@link TaskFailure} encodes and decodes it). A name this version does not
 * know (a record written by a newer one) reads as {@link #UNKNOWN}, and the record keeps the name.
 * Codes are fixed: never renumber a constant, add new ones at the end.
 */
public enum FailureReason {
    // requests
    INVALID_REQUEST(4000), INTERNAL_ERROR(4001), REQUEST_EXPIRED(4002),
    // lifecycle
    TIMEOUT(4010), CANCELLED(4011), AGENT_FAILED(4012), MERGE_FAILED(4013), COLLECT_FAILED(4014),
    RECOVER_FAILED(4015), VM_FAILED(4016), VM_LOST(4017), START_FAILED(4018), PERSIST_FAILED(4019),
    SLOT_UNAVAILABLE(4020), NODE_LOST(4021), INTERRUPTED(4022), STALE_RECORD(4023),
    // setup and boot
    NO_CREDENTIALS(4030), NETWORK_UNAVAILABLE(4031), NO_API_ROUTE(4032), AGENT_NOT_FOUND(4033), INVALID_IMAGE(4034),
    PREPARE_FAILED(4035), BOOT_FAILED(4036), BOOT_TIMEOUT(4037), SPAWN_FAILED(4038), INVALID_SPEC(4039), KVM_FAILED(4040), DRIVER_UNHEALTHY(4041),
    // guest output
    GUEST_INCOMPLETE(4050), GUEST_OUTPUT_INVALID(4051),
    // git: workspace, bundle, refs
    REPO_NOT_FOUND(4060), WORKSPACE_FAILED(4061), WORKSPACE_NOT_EMPTY(4062), BASE_NOT_FOUND(4063),
    UNCOMMITTED_NEEDS_HEAD_BASE(4064), INVALID_PAGE(4065), IO_ERROR(4066), INVALID_TASK_ID(4067),
    BUNDLE_NOT_REGULAR_FILE(4068), BUNDLE_TOO_LARGE(4069), BUNDLE_CORRUPT(4070), BUNDLE_UNEXPECTED_OBJECTS(4071),
    BUNDLE_UNEXPECTED_REFS(4072), BUNDLE_MISSING_PREREQUISITE(4073), TASK_REF_CONFLICT(4074),
    NOTHING_TO_MERGE(4075), NOTHING_TO_DIFF(4076), CLEANUP_FAILED(4077),
    // merge-back results that leave a task failed
    CONFLICTS(4080), DIRTY_WORKTREE(4081), BASE_BRANCH_MISSING(4082), BASE_NOT_A_BRANCH(4083), BRANCH_EXISTS(4084),
    REPOSITORY_BUSY(4085), CONCURRENT_UPDATE(4086), NOT_MERGED(4087), CHECKED_OUT_IN_OTHER_WORKTREE(4088), NO_COMMITS(4089), ALREADY_MERGED(4090),
    // the repository's environment (.microvm/environment.json) and its setup
    ENVIRONMENT_INVALID(4091), SETUP_FAILED(4092),
    /** A name this version does not know. */
    UNKNOWN(4099);

    /** Failure codes of this range are reasons; anything else (400, 404, 500...) is not. */
    public static final int FIRST_CODE = 4000, LAST_CODE = 4099;

    private static final Map<String, FailureReason> BY_WIRE = new HashMap<>();
    private static final Map<Integer, FailureReason> BY_CODE = new HashMap<>();

    static {
        for (FailureReason r : values()) {
            if (BY_CODE.put(r.code, r) != null) throw new ExceptionInInitializerError("duplicate failure code " + r.code);
            BY_WIRE.put(r.wireName(), r);
        }
    }

    private final int code;

    FailureReason(int code) {
        this.code = code;
    }

    /** The event-bus failure code of this reason. */
    public int code() {
        return code;
    }

    /** Lowercase name used in records, events and tool results. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The reason named {@code wire}; {@link #UNKNOWN} for a name this version does not know; null for null. */
    public static FailureReason fromWire(String wire) {
        if (wire == null) return null;
        return BY_WIRE.getOrDefault(wire, UNKNOWN);
    }

    /** The reason a failure code stands for, if it stands for one. */
    public static Optional<FailureReason> fromCode(int code) {
        return Optional.ofNullable(BY_CODE.get(code));
    }

    @Override
    public String toString() {
        return wireName();
    }
}
