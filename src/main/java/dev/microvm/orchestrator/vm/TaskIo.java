package dev.microvm.orchestrator.vm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
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
        StringBuilder sb = new StringBuilder();
        env.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            if (!KEY.matcher(e.getKey()).matches()) throw new IllegalArgumentException("bad environment name: " + e.getKey());
            if (e.getValue().indexOf('\0') >= 0) throw new IllegalArgumentException("NUL in value of " + e.getKey());
            sb.append(e.getKey()).append('=').append(shellQuote(e.getValue())).append('\n');
        });
        Path envFile = ioDir.resolve(GuestContract.TASK_ENV);
        Files.deleteIfExists(envFile);
        Files.createFile(envFile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(envFile, sb.toString(), StandardCharsets.UTF_8);
        Files.writeString(ioDir.resolve(GuestContract.PROMPT), prompt == null ? "" : prompt, StandardCharsets.UTF_8);
    }

    /** 'value' with every ' written as '\'' . */
    public static String shellQuote(String value) {
        return "'" + value.replace("'", "'\\''") + "'";
    }
}
