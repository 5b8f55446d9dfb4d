package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.util.AtomicFiles;
import dev.microvm.orchestrator.util.HostLock;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Secrets the host grants to one repository's tasks ({@code secret set NAME --repo ALIAS [--agent]}):
 * {@code repo-secrets/<alias>.json}, 0600 in a 0700 directory, apart from the Claude credential.
 * Only a repository's own tasks get them, and only those its environment names; to setup, and to
 * the agent as well when granted with {@code --agent}. Every value read is registered with
 * {@link Redactor#global()}. Blocking.
 */
public final class RepoSecrets {

    public static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,63}");
    static final int MAX_VALUE_BYTES = 64 * 1024;

    /** One granted secret. */
    public record Grant(String name, Secret value, boolean agent) {}

    private final StatePaths paths;

    public RepoSecrets(StatePaths paths) {
        this.paths = paths;
    }

    public void set(String alias, String name, Secret value, boolean agent) {
        checkName(name);
        String v = value.reveal();
        if (v.isEmpty()) throw new IllegalArgumentException("the value of secret " + name + " is empty (it is read from stdin)");
        if (v.length() > MAX_VALUE_BYTES || v.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("the value of secret " + name + " must be text without NUL, at most " + MAX_VALUE_BYTES + " bytes");
        }
        update(alias, m -> m.put(name, new JsonObject().put("value", v).put("agent", agent)));
    }

    /** @return whether {@code name} was granted to {@code alias} */
    public boolean remove(String alias, String name) {
        checkName(name);
        boolean[] removed = {false};
        update(alias, m -> removed[0] = m.remove(name) != null);
        return removed[0];
    }

    /** Every repository's grants, names only: alias → name → granted to the agent too. */
    public Map<String, Map<String, Boolean>> list() {
        Map<String, Map<String, Boolean>> out = new TreeMap<>();
        if (!Files.isDirectory(paths.repoSecretsDir())) return out;
        try (var files = Files.list(paths.repoSecretsDir())) {
            for (Path f : files.sorted().toList()) {
                String n = f.getFileName().toString();
                if (!n.endsWith(".json")) continue;
                String alias = n.substring(0, n.length() - 5);
                Map<String, Boolean> names = new TreeMap<>();
                read(alias).forEach((k, v) -> names.put(k, v.getBoolean("agent", false)));
                if (!names.isEmpty()) out.put(alias, names);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + paths.repoSecretsDir(), e);
        }
        return out;
    }

    /** Whether the host granted {@code alias} any secret (such tasks stay on this host). */
    public boolean any(String alias) {
        return !read(alias).isEmpty();
    }

    /**
     * The grants of {@code names} to {@code alias}, each value registered for redaction.
     *
     * @throws IllegalArgumentException naming every secret the host has not granted to the repository
     */
    public List<Grant> release(String alias, List<String> names) {
        Map<String, JsonObject> granted = read(alias);
        List<String> missing = names.stream().filter(n -> !granted.containsKey(n)).toList();
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("the environment names secret" + (missing.size() > 1 ? "s " : " ") + String.join(", ", missing)
                    + ", which the host has not granted to repository " + alias + "; grant with: microvm-orchestrator secret set "
                    + missing.get(0) + " --repo " + alias + " (the value is read from stdin)");
        }
        return names.stream().map(n -> {
            Secret s = Secret.of(granted.get(n).getString("value"));
            Redactor.global().register(s);
            return new Grant(n, s, granted.get(n).getBoolean("agent", false));
        }).toList();
    }

    private static void checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("invalid secret name '" + name + "': letters, digits and '_', not starting with a digit");
        }
    }

    private Map<String, JsonObject> read(String alias) {
        Path file = paths.repoSecrets(alias);
        java.util.Optional<String> text = AtomicFiles.readIfExists(file, "the secrets of repository " + alias);
        if (text.isEmpty()) return new TreeMap<>();
        try {
            JsonObject secrets = new JsonObject(text.get()).getJsonObject("secrets", new JsonObject());
            Map<String, JsonObject> out = new TreeMap<>();
            for (String n : secrets.fieldNames()) out.put(n, secrets.getJsonObject(n));
            out.values().forEach(v -> Redactor.global().register(Secret.of(v.getString("value", ""))));
            return out;
        } catch (DecodeException | ClassCastException e) {
            // the message of a decode error may quote the file: say only where it is
            throw new IllegalStateException("the secrets file " + file + " is damaged; it was left as it is (fix it or remove it and set the secrets again)");
        }
    }

    private void update(String alias, Consumer<Map<String, JsonObject>> change) {
        Path file = paths.repoSecrets(alias);
        try {
            SecretFiles.ensurePrivateDirectory(paths.repoSecretsDir());
            HostLock.withLock(paths.repoSecretsDir().resolve(".lock"), ch -> {
                Map<String, JsonObject> m = read(alias);
                change.accept(m);
                JsonObject secrets = new JsonObject();
                m.forEach(secrets::put);
                if (m.isEmpty()) {
                    Files.deleteIfExists(file);
                } else {
                    AtomicFiles.write(file, new JsonObject().put("version", 1).put("secrets", secrets).encode().getBytes(StandardCharsets.UTF_8), "rw-------");
                }
                return null;
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot update the secrets of repository " + alias, e);
        }
    }
}
