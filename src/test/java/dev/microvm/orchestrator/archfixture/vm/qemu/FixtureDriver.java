package dev.microvm.orchestrator.archfixture.vm.qemu;

/** ArchitectureTest fixture: one driver. */
public final class FixtureDriver {

}
