package dev.microvm.orchestrator.archfixture.secrets;

/** ArchitectureTest fixture: secrets writing the log directly (wrong). */
public final class WrongSecrets {
    dev.microvm.orchestrator.archfixture.events.EventLog log;
}
