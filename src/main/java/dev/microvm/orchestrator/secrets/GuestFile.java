package dev.microvm.orchestrator.secrets;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The checked, size-capped content of one guest-written file.
 *
 * @param path      the file that was read
 * @param content   at most the reader's cap of bytes
 * @param size      the file's size as the filesystem reported it (may be far larger than content)
 * @param truncated true when content is shorter than the file
 */
public record GuestFile(Path path, byte[] content, long size, boolean truncated) {
    /** The content decoded as UTF-8 (malformed bytes become U+FFFD). */
    public String text() {
        return new String(content, StandardCharsets.UTF_8);
    }
}
