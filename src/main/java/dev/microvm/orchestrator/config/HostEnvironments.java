package dev.microvm.orchestrator.config;

import dev.microvm.orchestrator.util.AtomicFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Environments the host sets per repository ({@code allow --environment FILE}), kept in the state
 * directory: they win over the repository's own {@code .microvm/environment.json}, and nothing in
 * the repository changes them. Blocking.
 */
public final class HostEnvironments {

    private final StatePaths paths;

    public HostEnvironments(StatePaths paths) {
        this.paths = paths;
    }

    /** Reads, checks and stores {@code file} as the environment of {@code alias}; refused whole when invalid. */
    public Environment set(String alias, Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the environment file " + file + ": " + e.getMessage());
        }
        Environment env = Environment.parse(text, file.toString());
        try {
            Files.createDirectories(paths.environmentsDir());
            AtomicFiles.write(paths.hostEnvironment(alias), env.toJson().encodePrettily());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot store the environment of repository " + alias, e);
        }
        return env;
    }

    /** The host's environment of {@code alias}, if it set one. */
    public Optional<Environment> get(String alias) {
        Path file = paths.hostEnvironment(alias);
        try {
            return Optional.of(Environment.parse(Files.readString(file, StandardCharsets.UTF_8), file.toString()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    public boolean remove(String alias) {
        try {
            return Files.deleteIfExists(paths.hostEnvironment(alias));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the environment of repository " + alias, e);
        }
    }
}
