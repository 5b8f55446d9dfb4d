package dev.microvm.orchestrator.secrets;

import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Starts a JVM with the shipped logback.xml: logs go to stderr only, at the level MVO_LOG_LEVEL names. */
class LogConfigurationTest {

    /** Entry point of the child JVM. */
    public static void main(String[] args) {
        var log = LoggerFactory.getLogger("dev.microvm.orchestrator.probe");
        log.debug("debug line");
        log.info("info line");
        log.warn("warn line with sk-ant-api03-probe0123456789");
    }

    private record Run(String stdout, String stderr) {}

    private static Run run(String level) throws Exception {
        String classpath = String.join(File.pathSeparator, Path.of("target/classes").toAbsolutePath().toString(),
                Path.of("target/test-classes").toAbsolutePath().toString(),
                Files.readString(Path.of(System.getProperty("runtime.classpath.file"))).strip());
        Path out = Files.createTempFile("probe", ".out");
        Path err = Files.createTempFile("probe", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", classpath, LogConfigurationTest.class.getName())
                    .redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().remove("MVO_LOG_LEVEL");
            if (level != null) pb.environment().put("MVO_LOG_LEVEL", level);
            Process p = pb.start();
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            return new Run(Files.readString(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    @Test
    void infoIsTheDefaultAndStdoutStaysEmpty() throws Exception {
        Run r = run(null);
        assertThat(r.stdout()).isEmpty();
        assertThat(r.stderr()).contains("info line").contains("warn line with [redacted]").doesNotContain("debug line")
                .doesNotContain("probe0123456789");
    }

    @Test
    void theLevelComesFromTheEnvironment() throws Exception {
        Run r = run("WARN");
        assertThat(r.stderr()).contains("warn line").doesNotContain("info line");
        assertThat(run("DEBUG").stderr()).contains("debug line");
    }
}
