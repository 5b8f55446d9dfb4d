package dev.microvm.orchestrator.worker;

/**
 * Turns how the agent ended into words a user can act on: a missing binary, an illegal
 * instruction (the guest CPU model), a crash at start, instead of a bare exit status.
 */
final class AgentExit {
    private AgentExit() {}

    private static final String[] SIGNALS = {null, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS",
            "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM"};

    /**
     * @param exit        the agent's exit status as the runner saw it (null when unknown)
     * @param runnerError what the runner reported in out/agent_error, or null
     * @param agent       the agent's name for messages ("claude", or "agent_command")
     * @param logTail     the end of the agent's output (already redacted)
     * @return the error to report, or null when the agent succeeded
     */
    static String describe(Integer exit, String runnerError, String agent, String logTail) {
        if (runnerError != null && !runnerError.isBlank()) return runnerError.strip();
        if (exit == null || exit == 0) return null;
        // an agent that never wrote a stream-json line failed before it started working
        boolean produced = logTail.lines().anyMatch(l -> l.startsWith("{"));
        String lastLine = logTail.lines().map(String::strip).filter(l -> !l.isEmpty()).reduce((a, b) -> b).orElse("");
        if (lastLine.length() > 300) lastLine = lastLine.substring(0, 300) + "…";
        if (!produced && !lastLine.isEmpty() && exit < 128 && !agent.equals("agent_command")) {
            return "the agent `" + agent + "` failed at start (exit " + exit + "): " + lastLine;
        }
        if (exit == 127 && !produced) return "agent `" + agent + "` not found in the guest (exit 127)";
        if (exit == 128 + 4) {
            return "illegal instruction: the guest CPU model lacks instructions the agent `" + agent + "` needs (SIGILL, exit 132); "
                    + "under QEMU TCG the CPU model must be 'max'";
        }
        if (exit > 128 && exit < 128 + SIGNALS.length) {
            String signal = SIGNALS[exit - 128] + ", exit " + exit;
            return produced ? "the agent `" + agent + "` was killed by a signal (" + signal + ")"
                    : "the agent `" + agent + "` crashed at start (" + signal + ") before writing any output";
        }
        return "the agent exited with code " + exit;
    }
}
