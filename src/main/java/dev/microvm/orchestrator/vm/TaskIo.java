package dev.microvm.orchestrator.vm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/** Writes the host → guest half of the io share (see {@link GuestContract}). */
public final class TaskIo {
    private static final Pattern KEY = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,63}"); // lower case too: http_proxy

    private TaskIo() {}

    /**
     * Writes {@code io/task.env} (0600) and {@code io/prompt.txt}. Values are single-quoted for
     * POSIX sh, so nothing in them is expanded when the runner sources the file.
     */
    public static void write(Path ioDir, Map<String, String> env, String prompt) throws IOException {
        Files.createDirectories(ioDir);
        String lines = envLines(env);
        Path envFile = ioDir.resolve(GuestContract.TASK_ENV);
        Files.deleteIfExists(envFile);
        Files.createFile(envFile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(envFile, lines, StandardCharsets.UTF_8);
        Files.writeString(ioDir.resolve(GuestContract.PROMPT), prompt == null ? "" : prompt, StandardCharsets.UTF_8);
    }

    /**
     * The environment's half: {@code io/environment.env} (its {@code env}, sourced by the runner for
     * setup and the agent) and {@code io/setup/1, 2, ...} (one setup command each, run in order).
     */
    public static void writeEnvironment(Path ioDir, List<String> setup, Map<String, String> env) throws IOException {
        Files.createDirectories(ioDir);
        Files.writeString(ioDir.resolve(GuestContract.ENVIRONMENT_ENV), envLines(env), StandardCharsets.UTF_8);
        if (setup.isEmpty()) return;
        Path dir = Files.createDirectories(ioDir.resolve(GuestContract.SETUP_DIR));
        for (int i = 0; i < setup.size(); i++) Files.writeString(dir.resolve(Integer.toString(i + 1)), setup.get(i), StandardCharsets.UTF_8);
    }

    /** KEY='value' lines, sorted, for POSIX sh to source. */
    public static String envLines(Map<String, String> env) {
        StringBuilder sb = new StringBuilder();
        env.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            if (!KEY.matcher(e.getKey()).matches()) throw new IllegalArgumentException("bad environment name: " + e.getKey());
            if (e.getValue().indexOf('\0') >= 0) throw new IllegalArgumentException("NUL in value of " + e.getKey());
            sb.append(e.getKey()).append('=').append(shellQuote(e.getValue())).append('\n');
        });
        return sb.toString();
    }

    /** 'value' with every ' written as '\'' . */
    public static String shellQuote(String value) {
        return "'" + value.replace("'", "'\\''") + "'";
    }
}
