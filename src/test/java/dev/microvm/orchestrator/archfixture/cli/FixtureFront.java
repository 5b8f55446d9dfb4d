package dev.microvm.orchestrator.archfixture.cli;

/** ArchitectureTest fixture: a front. */
public final class FixtureFront {

}
