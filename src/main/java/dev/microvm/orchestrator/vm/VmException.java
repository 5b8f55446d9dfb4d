package dev.microvm.orchestrator.vm;

import dev.microvm.orchestrator.util.ReasonedException;

/** A VM could not be started or controlled. {@code reason} is a stable code shown to users: boot_failed, boot_timeout, spawn_failed, ... */
public class VmException extends ReasonedException {

    public VmException(String reason, String message) { super(reason, message, null); }

    public VmException(String reason, String message, Throwable cause) { super(reason, message, cause); }
}
