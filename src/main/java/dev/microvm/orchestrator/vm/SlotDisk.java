package dev.microvm.orchestrator.vm;

import dev.microvm.orchestrator.util.AtomicFiles;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A slot's persistent disk: a sparse raw image attached as virtio-blk with id
 * {@link GuestContract#DISK_SLOT}. The guest formats it on first use.
 */
public final class SlotDisk {
    private SlotDisk() {}

    /** Creates {@code image} sparse with {@code bytes} if it does not exist; an existing image is left as is. */
    public static void ensure(Path image, long bytes) throws IOException {
        if (bytes < 64L << 20) throw new IllegalArgumentException("slot disk must be at least 64 MiB, got " + bytes);
        if (Files.exists(image)) {
            if (!Files.isRegularFile(image)) throw new IOException("slot disk " + image + " is not a regular file");
            return;
        }
        Files.createDirectories(image.getParent());
        Path tmp = image.resolveSibling(image.getFileName() + ".tmp");
        try (RandomAccessFile f = new RandomAccessFile(tmp.toFile(), "rw")) {
            f.setLength(bytes); // extends without writing: sparse on every filesystem we run on
        }
        AtomicFiles.move(tmp, image, false);
    }
}
