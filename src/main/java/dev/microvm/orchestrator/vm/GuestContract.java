package dev.microvm.orchestrator.vm;

/**
 * What host and guest agree on: mount tags, the slot disk id, guest paths, the io files and the
 * in-guest task runner. The runner script ({@code nixos-vm/runner/mvo-runner.sh}) holds the same
 * values; a test keeps the two in step.
 *
 * <pre>
 * io/task.env      host → guest  KEY='value' lines sourced by the runner
 * io/prompt.txt    host → guest  the task description
 * io/out/agent.log guest → host  agent stdout + stderr
 * io/out/exit_code guest → host  agent exit status
 * io/out/result.bundle           commits MVO_BASE_COMMIT..HEAD (absent when none)
 * io/out/runner.log
 * io/out/agent_error            why the agent could not start (absent when it started)
 * io/environment.env host → guest  the environment's variables (KEY='value'), for setup and the agent
 * io/setup/N       host → guest  setup command N (1, 2, ...), run in order before the agent
 * io/secrets.env   host → guest  granted secrets for setup: root-only 0600, read and unlinked by the runner at once
 * io/agent-secrets.env           the secrets granted to the agent as well (same handling)
 * io/out/setup.log guest → host  setup's output
 * io/out/setup.result            "ok MS", "failed N EXIT MS" or "skipped" (setup key unchanged); no file: no setup
 * io/out/nix-develop.result      "ok MS PATHS_BEFORE PATHS_AFTER BUILT" or "failed EXIT MS" (MVO_NIX_DEVELOP=1 only)
 * io/out/done      written last
 * </pre>
 * The host reads io/out only after the VM has stopped, and never trusts it.
 */
public final class GuestContract {
    private GuestContract() {}

    public static final String TAG_WORKSPACE = "mvo_ws";
    public static final String TAG_IO = "mvo_io";
    /** Read-only share of the user's git object directory (QEMU only). */
    public static final String TAG_OBJECTS = "mvo_objects";
    public static final String DISK_SLOT = "mvo_slot";
    /**
     * One repository's caches on one slot (its cache image, attached to that repository's tasks
     * only); the runner mounts it on {@link #GUEST_CACHE}.
     */
    public static final String DISK_CACHE = "mvo_cache";
    /** The production image's read-only Nix store (attach read-only). */
    public static final String DISK_STORE = "mvo_store";

    public static final String GUEST_WORKSPACE = "/workspace";
    public static final String GUEST_IO = "/run/mvo/io";
    public static final String GUEST_OBJECTS = "/run/mvo/objects";
    public static final String GUEST_CACHE = "/run/mvo/cache";

    public static final String TASK_ENV = "task.env";
    public static final String PROMPT = "prompt.txt";
    public static final String OUT_DIR = "out";
    public static final String OUT_AGENT_LOG = "out/agent.log";
    public static final String OUT_EXIT_CODE = "out/exit_code";
    public static final String OUT_BUNDLE = "out/result.bundle";
    public static final String OUT_RUNNER_LOG = "out/runner.log";
    public static final String OUT_DONE = "out/done";
    public static final String ENVIRONMENT_ENV = "environment.env";
    public static final String SETUP_DIR = "setup";
    public static final String SECRETS_ENV = "secrets.env";
    public static final String AGENT_SECRETS_ENV = "agent-secrets.env";
    public static final String OUT_SETUP_LOG = "out/setup.log";
    public static final String OUT_SETUP_RESULT = "out/setup.result";
    public static final String OUT_NIX_DEVELOP_RESULT = "out/nix-develop.result";
    /** The runner prefixes setup's console lines with this. */
    public static final String SETUP_LINE_PREFIX = "mvo-setup: ";

    public static final String ENV_TASK_ID = "MVO_TASK_ID";
    public static final String ENV_BASE_COMMIT = "MVO_BASE_COMMIT";
    public static final String ENV_AGENT_CMD = "MVO_AGENT_CMD";
    public static final String ENV_TIMEOUT_SECS = "MVO_TIMEOUT_SECS";
    /** The booted image's version, for the runner's messages. */
    /**
     * api-only without a NIC (vfkit): the runner relays 127.0.0.1:{@link #API_RELAY_PORT} in the guest to
     * vsock port {@code MVO_API_VSOCK_PORT} of the host (CID 2), which the hypervisor joins to a host unix socket.
     */
    public static final String ENV_API_VSOCK_PORT = "MVO_API_VSOCK_PORT";
    public static final String ENV_API_RELAY_PORT = "MVO_API_RELAY_PORT";
    public static final int API_VSOCK_PORT = 1100;
    public static final int API_RELAY_PORT = 80;
    public static final String ENV_IMAGE_VERSION = "MVO_IMAGE_VERSION";
    /** The cache paths, one a line: "~/x" under the agent's HOME, "x" in the workspace (environment file's {@code cache}). */
    public static final String ENV_CACHE_PATHS = "MVO_CACHE_PATHS";
    /** "1": the setup key is unchanged since this slot last ran setup for this repository; setup is skipped. */
    public static final String ENV_SETUP_SKIP = "MVO_SETUP_SKIP";
    /** "1": setup and the agent run inside {@code nix develop} of the workspace's flake. */
    public static final String ENV_NIX_DEVELOP = "MVO_NIX_DEVELOP";
    /** The task's network as the guest gets it: none, api-only, allowlist or full (Nix asks no binary cache without a network). */
    public static final String ENV_NETWORK = "MVO_NETWORK";
    /** guest → host: why the agent could not run (missing from the image, no agent user, …). */
    public static final String OUT_AGENT_ERROR = "out/agent_error";

    /** The runner prints this line (to the console) once the guest has booted and mounted its shares. */
    public static final String READY_MARKER = "mvo-runner: task runner started";
}
