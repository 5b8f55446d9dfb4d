package dev.microvm.orchestrator.archfixture.config;

/** ArchitectureTest fixture: config reaching the lifecycle (wrong). */
public final class WrongConfig {
    dev.microvm.orchestrator.archfixture.task.WrongTask task;
}
