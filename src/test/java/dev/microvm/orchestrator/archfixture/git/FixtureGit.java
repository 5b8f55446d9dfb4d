package dev.microvm.orchestrator.archfixture.git;

/** ArchitectureTest fixture: the git room. */
public final class FixtureGit {

}
