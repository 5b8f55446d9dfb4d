package dev.microvm.orchestrator.archfixture.cluster;

/** ArchitectureTest fixture: the cluster room. */
public final class FixtureCluster {

}
