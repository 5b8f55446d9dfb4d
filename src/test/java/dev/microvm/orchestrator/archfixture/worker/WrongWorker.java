package dev.microvm.orchestrator.archfixture.worker;

/** ArchitectureTest fixture: worker reaching a front and one driver (wrong). */
public final class WrongWorker {
    dev.microvm.orchestrator.archfixture.cli.FixtureFront front;
    dev.microvm.orchestrator.archfixture.vm.qemu.FixtureDriver driver;
}
