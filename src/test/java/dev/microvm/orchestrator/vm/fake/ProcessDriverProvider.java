package dev.microvm.orchestrator.vm.fake;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.vm.DriverProvider;
import dev.microvm.orchestrator.vm.HypervisorDriver;

/** Registers {@code driver: process} from the test classpath (a production build has no such driver). */
public final class ProcessDriverProvider implements DriverProvider {

    @Override
    public String name() {
        return "process";
    }

    @Override
    public HypervisorDriver create(OrchestratorConfig config, StatePaths paths) {
        return new ProcessDriver();
    }
}
