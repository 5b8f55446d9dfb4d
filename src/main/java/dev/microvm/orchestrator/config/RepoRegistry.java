package dev.microvm.orchestrator.config;

import dev.microvm.orchestrator.util.AtomicFiles;
import dev.microvm.orchestrator.util.HostLock;
import dev.microvm.orchestrator.util.JsonSchema;
import dev.microvm.orchestrator.util.JsonSchemas;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * The allowlist of repositories tasks may run on ({@code repos.json}): alias → path. Every
 * read-modify-write holds an OS file lock, so several orchestrator processes can register at once.
 * Blocking: worker threads or the CLI only.
 */
public final class RepoRegistry {

    public static final Pattern ALIAS = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    private final Path file;
    private final Clock clock;

    public RepoRegistry(StatePaths paths, Clock clock) {
        this.file = paths.reposFile();
        this.clock = clock;
    }

    /**
     * @param defaults per-repository task defaults ({@code merge_strategy}, {@code network}); a
     *                 task's own options win over them, and they win over the node's defaults
     */
    public record Repo(String alias, Path path, String added, JsonObject defaults) {
        public Repo {
            defaults = defaults == null ? new JsonObject() : defaults.copy();
        }

        public Repo(String alias, Path path, String added) {
            this(alias, path, added, null);
        }

        public JsonObject toJson() {
            JsonObject j = new JsonObject().put("alias", alias).put("path", path.toString()).put("added", added);
            if (!defaults.isEmpty()) j.put("defaults", defaults.copy());
            return j;
        }
    }

    private static final JsonSchema DEFAULTS = JsonSchemas.load("repo-defaults.schema.json", "repository setting");

    /**
     * Refuses repository defaults that tasks would refuse: the same schema as task options
     * (repo-defaults.schema.json refers to it) and the same domain rule. {@code alias} names the
     * repository in the message.
     */
    public static void checkDefaults(JsonObject defaults, String alias) {
        DEFAULTS.check(defaults, "repository " + alias);
        AllowedDomains.of(defaults.getJsonArray("allowed_domains", new JsonArray()).stream().map(String::valueOf).toList(),
                "allowed_domains of repository " + alias);
    }

    /**
     * Sets per-repository task defaults (merge_strategy: auto|branch|none, network:
     * full|allowlist|api-only|none, allowed_domains: domains added to the allowlist of this
     * repository's tasks). They live in the state directory: nothing in the repository changes them.
     */
    public Repo setDefaults(String alias, JsonObject defaults) {
        validateAlias(alias);
        checkDefaults(defaults, alias);
        return update(repos -> {
            Repo r = repos.get(alias);
            if (r == null) throw new UnknownRepoException(alias, repos.keySet());
            JsonObject merged = r.defaults().copy().mergeIn(defaults);
            Repo updated = new Repo(r.alias(), r.path(), r.added(), merged);
            repos.put(alias, updated);
            return updated;
        });
    }

    /**
     * Registers a repository. The alias defaults to the directory name; an alias already used for
     * another path gets a numbered alias (name-2, name-3, ...). A path already registered keeps
     * its alias.
     *
     * @return the alias under which the repository is registered
     */
    public String allow(Path path, String requestedAlias) {
        Path repo = requireGitWorkTree(path);
        String base = requestedAlias != null ? validateAlias(requestedAlias) : aliasFromDirectory(repo);
        return update(repos -> {
            for (Repo r : repos.values()) {
                if (r.path().equals(repo) && (requestedAlias == null || r.alias().equals(requestedAlias))) return r.alias();
            }
            String alias = base;
            for (int n = 2; repos.containsKey(alias); n++) alias = base + "-" + n;
            repos.put(alias, new Repo(alias, repo, clock.instant().toString()));
            return alias;
        });
    }

    /** Removes an alias; the repository itself is not touched. */
    public Repo remove(String alias) {
        validateAlias(alias);
        return update(repos -> {
            Repo r = repos.remove(alias);
            if (r == null) throw new UnknownRepoException(alias, repos.keySet());
            return r;
        });
    }

    public List<Repo> list() {
        return new ArrayList<>(read().values());
    }

    public Repo resolve(String alias) {
        if (alias == null || alias.isBlank()) throw new IllegalArgumentException("repo alias is required; run list_repos to see them");
        validateAlias(alias);
        Map<String, Repo> repos = read();
        Repo r = repos.get(alias);
        if (r == null) throw new UnknownRepoException(alias, repos.keySet());
        return r;
    }

    public static String validateAlias(String alias) {
        if (alias == null || !ALIAS.matcher(alias).matches()) {
            throw new IllegalArgumentException("invalid repo alias '" + alias
                    + "': use letters, digits, '.', '_' or '-' (at most 64, not starting with a symbol)");
        }
        return alias;
    }

    static String aliasFromDirectory(Path repo) {
        String name = repo.getFileName() == null ? "repo" : repo.getFileName().toString();
        String cleaned = name.replaceAll("[^A-Za-z0-9._-]", "-").replaceAll("^[^A-Za-z0-9]+", "");
        if (cleaned.isEmpty()) cleaned = "repo";
        return cleaned.length() > 64 ? cleaned.substring(0, 64) : cleaned;
    }

    /** The canonical top of a git working tree, or a clear error. */
    public static Path requireGitWorkTree(Path path) {
        if (path == null) throw new IllegalArgumentException("a repository path is required");
        Path real;
        try {
            real = path.toAbsolutePath().normalize().toRealPath();
        } catch (IOException e) {
            throw new IllegalArgumentException("path does not exist: " + path);
        }
        if (!Files.isDirectory(real)) throw new IllegalArgumentException("not a directory: " + real);
        Path dotGit = real.resolve(".git");
        if (!Files.exists(dotGit)) {
            throw new IllegalArgumentException("not a git repository (no .git at its top): " + real
                    + ". Run 'git init' there first, or pass the repository's top-level directory.");
        }
        return real;
    }

    private Map<String, Repo> read() {
        java.util.Optional<String> text = AtomicFiles.readIfExists(file, file.toString());
        if (text.isEmpty()) return new TreeMap<>();
        try {
            JsonObject json = new JsonObject(text.get());
            JsonObject repos = json.getJsonObject("repos", new JsonObject());
            Map<String, Repo> out = new TreeMap<>();
            for (String alias : repos.fieldNames()) {
                JsonObject r = repos.getJsonObject(alias);
                String p = r.getString("path");
                if (!ALIAS.matcher(alias).matches() || p == null) throw new IllegalArgumentException("bad entry '" + alias + "'");
                out.put(alias, new Repo(alias, Path.of(p), r.getString("added"), r.getJsonObject("defaults")));
            }
            return out;
        } catch (DecodeException | ClassCastException | IllegalArgumentException e) {
            throw new IllegalStateException("the repository list " + file + " is damaged (" + e.getMessage()
                    + "). It was left as it is: fix it by hand or move it away and register the repositories again.");
        }
    }

    private <T> T update(Function<Map<String, Repo>, T> change) {
        try {
            return HostLock.withLock(file.resolveSibling("repos.lock"), ch -> {
                Map<String, Repo> repos = read();
                T result = change.apply(repos);
                JsonObject out = new JsonObject();
                repos.values().forEach(r -> {
                    JsonObject entry = new JsonObject().put("path", r.path().toString()).put("added", r.added());
                    if (!r.defaults().isEmpty()) entry.put("defaults", r.defaults().copy());
                    out.put(r.alias(), entry);
                });
                AtomicFiles.write(file, new JsonObject().put("version", 1).put("repos", out).encodePrettily());
                return result;
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot update " + file, e);
        }
    }

    public static final class UnknownRepoException extends IllegalArgumentException {
        public UnknownRepoException(String alias, java.util.Collection<String> known) {
            super("repository '" + alias + "' is not registered. Register it with: microvm-orchestrator allow /path/to/repo"
                    + (known.isEmpty() ? "" : " (registered: " + String.join(", ", known) + ")"));
        }
    }
}
