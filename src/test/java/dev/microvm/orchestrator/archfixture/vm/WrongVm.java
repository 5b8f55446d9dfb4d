package dev.microvm.orchestrator.archfixture.vm;

/** ArchitectureTest fixture: vm reaching git (wrong). */
public final class WrongVm {
    dev.microvm.orchestrator.archfixture.git.FixtureGit git;
}
