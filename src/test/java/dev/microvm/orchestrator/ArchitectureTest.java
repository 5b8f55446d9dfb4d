package dev.microvm.orchestrator;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * ARCHITECTURE.md's "Which room may use which", checked on the product's classes (not the tests').
 * A known violation listed here is pending work elsewhere; remove it from the list once that lands.
 */
class ArchitectureTest {

    private static final String ROOT = "dev.microvm.orchestrator";
    private static final RoomRules RULES = new RoomRules(ROOT);
    private static JavaClasses product;

    @BeforeAll
    static void importProduct() {
        product = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages(ROOT);
        assertThat(product.contain(ROOT + ".node.Node")).as("the product's classes were imported").isTrue();
    }

    @Test
    void taskAndSlotImportNoFront() {
        RULES.taskAndSlotImportNoFront().check(product);
    }

    @Test
    void workerImportsNoFront() {
        RULES.workerImportsNoFront().check(product);
    }

    @Test
    void theOtherCoreRoomsAndNodeImportNoFront() {
        RULES.otherCoreRoomsImportNoFront().check(product);
    }

    @Test
    void secretsPublishThroughTheNodesSink() {
        RULES.secretsPublishThroughTheNodesSink().check(product);
    }

    @Test
    void configSitsBelowTheLifecycle() {
        RULES.configSitsBelowTheLifecycle().check(product);
    }

    @Test
    void noCodeOutsideVmReachesIntoADriver() {
        RULES.onlyVmKnowsTheDrivers().check(product);
    }

    @Test
    void vmAndGitAreIndependent() {
        RULES.vmAndGitAreIndependent().check(product);
    }

    @Test
    void qemuAndVfkitAreIndependent() {
        RULES.qemuAndVfkitAreIndependent().check(product);
    }

    @Test
    void taskKnowsNoCluster() {
        RULES.taskKnowsNoCluster().check(product);
    }

    @Test
    void noCoreRoomKnowsTheCluster() {
        RULES.coreKnowsNoCluster().check(product);
    }

    @Test
    void mcpAndStreamReachTheCoreThroughNodeAndTheKernel() {
        RULES.mcpAndStreamReachTheCoreThroughNode().check(product);
        RULES.mcpAndStreamUseOnlyTheAccessTokenOfSecrets().check(product);
    }

    /** The rules catch what they are for: a fixture tree with one wrong-way reference per rule. */
    @Test
    void aWrongWayReferenceFailsTheRules() {
        String root = ROOT + ".archfixture";
        JavaClasses fixture = new ClassFileImporter().importPackages(root);
        RoomRules rules = new RoomRules(root);
        for (ArchRule r : new ArchRule[]{rules.taskAndSlotImportNoFront(), rules.workerImportsNoFront(),
                rules.onlyVmKnowsTheDrivers(), rules.taskKnowsNoCluster(), rules.configSitsBelowTheLifecycle(),
                rules.secretsPublishThroughTheNodesSink(), rules.vmAndGitAreIndependent()}) {
            assertThat(r.evaluate(fixture).hasViolation()).as(r.getDescription()).isTrue();
        }
        // a listed known violation is let through, and only that one
        assertThat(rules.onlyVmKnowsTheDrivers("WrongWorker -> FixtureDriver").evaluate(fixture).hasViolation()).isFalse();
        assertThat(rules.workerImportsNoFront("WrongWorker -> FixtureDriver").evaluate(fixture).hasViolation()).isTrue();
    }
}
