package dev.microvm.orchestrator.archfixture.task;

/** ArchitectureTest fixture: task reaching a front and the cluster (wrong). */
public final class WrongTask {
    dev.microvm.orchestrator.archfixture.cli.FixtureFront front;
    dev.microvm.orchestrator.archfixture.cluster.FixtureCluster cluster;
}
