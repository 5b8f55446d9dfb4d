package dev.microvm.orchestrator.vm;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;

/**
 * A hypervisor driver that is not built in, found through {@link java.util.ServiceLoader}
 * ({@code META-INF/services/dev.microvm.orchestrator.vm.DriverProvider}). The product ships none:
 * the test suite registers its host-process driver this way, so a production build refuses its name.
 */
public interface DriverProvider {

    /** The name the configuration's {@code driver} selects. */
    String name();

    HypervisorDriver create(OrchestratorConfig config, StatePaths paths);
}
