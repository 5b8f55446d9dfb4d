package dev.microvm.orchestrator.cli;

public final class Main {
    public static void main(String[] args) {
        System.err.println("microvm-orchestrator");
    }
}
