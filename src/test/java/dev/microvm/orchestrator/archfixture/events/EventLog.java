package dev.microvm.orchestrator.archfixture.events;

/** ArchitectureTest fixture: the durable log, by name. */
public final class EventLog {

}
