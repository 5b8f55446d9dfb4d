package dev.microvm.orchestrator.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Starts a class of this project (main or test) in a separate JVM, as a second orchestrator process would. */
public final class JavaProcess {

    private JavaProcess() {}

    public static ProcessBuilder builder(Class<?> mainClass, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaBinary());
        cmd.add("-cp");
        cmd.add(classpath());
        cmd.add("-XX:TieredStopAtLevel=1");
        cmd.add(mainClass.getName());
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd);
    }

    public static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** target/classes, target/test-classes and the runtime dependencies. */
    public static String classpath() throws IOException {
        Path base = Path.of(System.getProperty("project.basedir", "."));
        String deps = Files.readString(Path.of(System.getProperty("runtime.classpath.file",
                base.resolve("target/runtime-classpath.txt").toString()))).trim();
        String testDeps = System.getProperty("java.class.path");
        return base.resolve("target/classes") + java.io.File.pathSeparator + base.resolve("target/test-classes")
                + java.io.File.pathSeparator + deps + java.io.File.pathSeparator + testDeps;
    }
}
