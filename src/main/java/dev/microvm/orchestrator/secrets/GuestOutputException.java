package dev.microvm.orchestrator.secrets;

import java.io.IOException;

/** A guest-written file that the host refuses to read, with the reason as a stable code. */
public final class GuestOutputException extends IOException {

    public enum Reason {
        /** The name is empty, absolute, contains NUL, or normalizes outside the guest directory. */
        BAD_NAME,
        /** No such file. */
        MISSING,
        /** The file, or a directory on the way to it, is a symbolic link. */
        SYMLINK,
        /** A directory on the way to the file is not a directory. */
        NOT_A_DIRECTORY,
        /** A FIFO, socket, device or directory where a regular file was expected. */
        NOT_REGULAR,
        /** The file has more than one hard link, so it may be a host file under another name. */
        HARDLINK
    }

    private final Reason reason;

    public GuestOutputException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
