package dev.microvm.orchestrator.util;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The one way the orchestrator runs a short-lived command and waits for it: output (stdout and
 * stderr together) is drained while the command runs, kept up to a cap, and the command is killed
 * with everything it started when its timeout passes, so a hung child never blocks its caller.
 * Processes that must outlive the orchestrator (hypervisors, the daemon) are spawned detached
 * elsewhere and only share {@link #BASE_ENV}.
 *
 * <p>Blocking: worker threads only.
 */
public final class ProcessRunner {
    /** Environment a scrubbed child gets; nothing from the orchestrator's own (it may hold API keys). */
    public static final Map<String, String> BASE_ENV = Map.of(
            "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/homebrew/bin",
            "LANG", "C.UTF-8");
    /** Output kept in memory by default; the rest is counted, not stored. */
    public static final int DEFAULT_OUTPUT_LIMIT = 1 << 20;
    private static final Duration DRAIN_GRACE = Duration.ofSeconds(2);
    private static final File DEV_NULL = new File("/dev/null");

    private final List<String> command;
    private Path directory;
    private Duration timeout = Duration.ofMinutes(1);
    private boolean scrubbed;
    private final Map<String, String> addedEnv = new LinkedHashMap<>();
    private final List<String> removedEnv = new ArrayList<>();
    private byte[] input;
    private ProcessBuilder.Redirect inputRedirect = ProcessBuilder.Redirect.from(DEV_NULL);
    private boolean discardOutput;
    private int outputLimit = DEFAULT_OUTPUT_LIMIT;
    private Consumer<String> listener;

    private ProcessRunner(List<String> command) {
        if (command.isEmpty()) throw new IllegalArgumentException("empty command");
        this.command = List.copyOf(command);
    }

    public static ProcessRunner of(List<String> command) {
        return new ProcessRunner(command);
    }

    public static ProcessRunner of(String... command) {
        return new ProcessRunner(List.of(command));
    }

    /** What a finished command left: its exit code and (up to the limit) its output. */
    public record Result(List<String> command, int exitCode, String output, long outputChars) {
        public boolean truncated() {
            return outputChars > output.length();
        }

        /** This result when the exit code is 0, else an IOException naming the command and its output. */
        public Result orThrow() throws IOException {
            if (exitCode != 0) {
                throw new IOException(describe(command) + " failed (exit " + exitCode + "): " + output.strip());
            }
            return this;
        }
    }

    /** The command did not finish in time; it and its descendants were killed. */
    public static final class TimeoutException extends IOException {
        public TimeoutException(String message) {
            super(message);
        }
    }

    public ProcessRunner directory(Path dir) {
        this.directory = dir;
        return this;
    }

    public ProcessRunner timeout(Duration timeout) {
        this.timeout = timeout;
        return this;
    }

    /** Starts from {@link #BASE_ENV} instead of this process's environment. */
    public ProcessRunner scrubbedEnvironment() {
        this.scrubbed = true;
        return this;
    }

    public ProcessRunner environment(Map<String, String> extra) {
        addedEnv.putAll(extra);
        return this;
    }

    public ProcessRunner withoutEnvironment(Collection<String> names) {
        removedEnv.addAll(names);
        return this;
    }

    /** Bytes written to the command's standard input, which is then closed. Default: /dev/null. */
    public ProcessRunner input(String text) {
        this.input = text.getBytes(StandardCharsets.UTF_8);
        return this;
    }

    public ProcessRunner input(ProcessBuilder.Redirect redirect) {
        this.inputRedirect = redirect;
        this.input = null;
        return this;
    }

    /** For a command that leaves a daemon behind: no pipe it could inherit and keep open. */
    public ProcessRunner discardOutput() {
        this.discardOutput = true;
        return this;
    }

    public ProcessRunner outputLimit(int chars) {
        this.outputLimit = chars;
        return this;
    }

    /** Receives the output as it comes, in chunks (from a reader thread). */
    public ProcessRunner onOutput(Consumer<String> listener) {
        this.listener = listener;
        return this;
    }

    /**
     * Runs the command to its end. Throws {@link TimeoutException} when it outlived its timeout
     * (it is killed first), an IOException when it cannot be started or the thread is interrupted.
     */
    public Result run() throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        if (directory != null) pb.directory(directory.toFile());
        Map<String, String> env = pb.environment();
        if (scrubbed) {
            env.clear();
            env.putAll(BASE_ENV);
        }
        removedEnv.forEach(env::remove);
        env.putAll(addedEnv);
        pb.redirectInput(input != null ? ProcessBuilder.Redirect.PIPE : inputRedirect);
        if (discardOutput) pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Process process = pb.start();
        Drain drain = new Drain(process.getInputStream(), outputLimit, listener);
        Thread reader = Thread.ofVirtual().name("process-output").start(drain);
        if (input != null) {
            byte[] bytes = input;
            // its own thread: a command that does not read its input must still meet its timeout
            Thread.ofVirtual().name("process-input").start(() -> feed(process, bytes));
        }
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                killTree(process.toHandle());
                throw new TimeoutException(describe(command) + " did not finish within " + seconds(timeout)
                        + " and was killed");
            }
            reader.join(DRAIN_GRACE); // a daemon the command left behind may still hold the pipe
        } catch (InterruptedException e) {
            killTree(process.toHandle());
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + describe(command), e);
        }
        return new Result(command, process.exitValue(), drain.text(), drain.total());
    }

    /** Kills a process and every process it started (children first listed, so none escapes to init unseen). */
    public static void killTree(ProcessHandle ph) {
        List<ProcessHandle> descendants = ph.descendants().toList();
        ph.destroyForcibly();
        descendants.forEach(ProcessHandle::destroyForcibly);
    }

    private static void feed(Process process, byte[] bytes) {
        try (OutputStream in = process.getOutputStream()) {
            in.write(bytes);
        } catch (IOException e) {
            // the command closed its input early; its exit code tells the rest
        }
    }

    static String describe(List<String> command) {
        String all = String.join(" ", command);
        return "'" + (all.length() > 300 ? all.substring(0, 300) + " …" : all) + "'";
    }

    private static String seconds(Duration d) {
        return d.toMillis() < 1000 ? d.toMillis() + " ms" : d.toSeconds() + " s";
    }

    /** Reads output until end of file, keeping the first {@code limit} characters. */
    private static final class Drain implements Runnable {
        private final InputStream in;
        private final int limit;
        private Consumer<String> listener;
        private final StringBuilder kept = new StringBuilder();
        private long total;

        Drain(InputStream in, int limit, Consumer<String> listener) {
            this.in = in;
            this.limit = limit;
            this.listener = listener;
        }

        @Override
        public void run() {
            char[] buf = new char[8192];
            try (Reader r = new InputStreamReader(in, StandardCharsets.UTF_8)) {
                int n;
                while ((n = r.read(buf)) >= 0) {
                    synchronized (this) {
                        int room = (int) Math.max(0, Math.min(n, limit - kept.length()));
                        kept.append(buf, 0, room);
                        total += n;
                    }
                    if (listener != null) tell(new String(buf, 0, n));
                }
            } catch (IOException e) {
                // the stream was closed under us (the process was killed): what we have is what there is
            }
        }

        /** A failing listener is dropped: the output must still be drained or the command blocks. */
        private void tell(String chunk) {
            try {
                listener.accept(chunk);
            } catch (RuntimeException e) {
                listener = null;
            }
        }

        synchronized String text() {
            return kept.toString();
        }

        synchronized long total() {
            return total;
        }
    }
}
