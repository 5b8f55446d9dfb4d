package dev.microvm.orchestrator.git;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Builders;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.dircache.DirCache;
import org.eclipse.jgit.dircache.DirCacheBuilder;
import org.eclipse.jgit.dircache.DirCacheEntry;
import org.eclipse.jgit.lib.CommitBuilder;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.FileMode;
import org.eclipse.jgit.lib.NullProgressMonitor;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectInserter;
import org.eclipse.jgit.lib.PersonIdent;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.RefUpdate;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.transport.BundleWriter;
import org.eclipse.jgit.treewalk.TreeWalk;

/**
 * Randomized scenarios around one task: the user commits, edits, stages, creates files, detaches
 * HEAD, deletes or force-moves the base branch while the agent commits (or not) in its
 * workspace; then the task is imported and merged. Afterwards every commit that was reachable
 * before (the user's and the task's) is still reachable from some ref, every uncommitted change
 * and untracked file is still in the working tree, branches only moved forward, and the
 * user's uncommitted-changes base commit never reached a branch.
 */
@net.jqwik.api.Tag("slow")
class MergeNeverLosesWorkProperties {
    private static final int FILES = 5;
    private static final int LINES = 4;
    private static final PersonIdent USER = new PersonIdent("User", "user@example.com");
    private static Path root;
    private static int counter;

    enum UserAction { COMMIT, EDIT, STAGE, UNTRACKED, DETACH, DELETE_BRANCH, FORCE_MOVE }

    /** {@code file} 0..4 are tracked from the start; 5 and 6 are new names. {@code line} -1 deletes the file. */
    record Edit(int file, int line, int token) {
    }

    record UserStep(UserAction action, Edit edit) {
    }

    record Scenario(boolean includeUncommitted, List<Edit> dirtyAtStart, List<List<Edit>> agentCommits,
                    List<UserStep> userSteps, MergeStrategy strategy) {
    }

    private static Path template;

    /** One small repository, copied for every scenario (much cheaper than building it each time). */
    @BeforeContainer
    static void createRoot() throws Exception {
        root = Files.createTempDirectory("merge-properties");
        template = root.resolve("template");
        try (Git git = Git.init().setDirectory(template.toFile()).setInitialBranch("main").call()) {
            for (int f = 0; f < FILES; f++) {
                writeFile(template, f, initialContent(f));
            }
            git.add().addFilepattern(".").call();
            git.commit().setMessage("initial").setAuthor(USER).setCommitter(USER).setSign(false).call();
        }
    }

    @AfterContainer
    static void deleteRoot() throws IOException {
        deleteTree(root);
    }

    @Provide
    Arbitrary<Scenario> scenarios() {
        Arbitrary<Edit> edit = Combinators.combine(Arbitraries.integers().between(0, FILES + 1),
                Arbitraries.integers().between(-1, LINES - 1), Arbitraries.integers().between(0, 2)).as(Edit::new);
        Arbitrary<Edit> trackedEdit = Combinators.combine(Arbitraries.integers().between(0, FILES - 1),
                Arbitraries.integers().between(0, LINES - 1), Arbitraries.integers().between(0, 2)).as(Edit::new);
        Arbitrary<UserStep> step = Combinators.combine(Arbitraries.frequencyOf(
                        net.jqwik.api.Tuple.of(5, Arbitraries.just(UserAction.COMMIT)),
                        net.jqwik.api.Tuple.of(4, Arbitraries.just(UserAction.EDIT)),
                        net.jqwik.api.Tuple.of(2, Arbitraries.just(UserAction.STAGE)),
                        net.jqwik.api.Tuple.of(3, Arbitraries.just(UserAction.UNTRACKED)),
                        net.jqwik.api.Tuple.of(1, Arbitraries.just(UserAction.DETACH)),
                        net.jqwik.api.Tuple.of(1, Arbitraries.just(UserAction.DELETE_BRANCH)),
                        net.jqwik.api.Tuple.of(1, Arbitraries.just(UserAction.FORCE_MOVE))), edit)
                .as(UserStep::new);
        return Builders.withBuilder(() -> new Object[5])
                .use(Arbitraries.of(true, false)).in((b, v) -> { b[0] = v; return b; })
                .use(trackedEdit.list().ofMaxSize(2)).in((b, v) -> { b[1] = v; return b; })
                .use(edit.list().ofMinSize(1).ofMaxSize(2).list().ofMaxSize(3)).in((b, v) -> { b[2] = v; return b; })
                .use(step.list().ofMaxSize(4)).in((b, v) -> { b[3] = v; return b; })
                .use(Arbitraries.frequency(net.jqwik.api.Tuple.of(6, MergeStrategy.AUTO),
                        net.jqwik.api.Tuple.of(2, MergeStrategy.BRANCH), net.jqwik.api.Tuple.of(1, MergeStrategy.NONE)))
                .in((b, v) -> { b[4] = v; return b; })
                .build(b -> {
                    @SuppressWarnings("unchecked")
                    Scenario s = new Scenario((Boolean) b[0], (List<Edit>) b[1], (List<List<Edit>>) b[2],
                            (List<UserStep>) b[3], (MergeStrategy) b[4]);
                    return s;
                });
    }

    @Property(tries = 1000)
    void mergeBackNeverLosesCommitsOrUncommittedChanges(@ForAll("scenarios") Scenario scenario) throws Exception {
        Path dir = root.resolve("s" + (counter++));
        try {
            run(scenario, dir);
        } finally {
            deleteTree(dir);
        }
    }

    private void run(Scenario scenario, Path dir) throws Exception {
        Path repoDir = dir.resolve("repo");
        String taskId = "p" + counter;
        copyTree(template, repoDir);
        try (Git git = Git.open(repoDir.toFile())) {
            Repository repo = git.getRepository();
            for (Edit e : scenario.dirtyAtStart()) {
                applyEdit(repoDir, e);
            }
            PreparedWorkspace prepared = new WorkspacePreparer(false).prepare(new PrepareRequest(repoDir, dir.resolve("ws"),
                    null, scenario.includeUncommitted(), List.of(), repoDir.resolve(".git/objects").toString(), taskId));
            ObjectId agentTip = agentWorks(dir.resolve("ws"), scenario.agentCommits());
            for (UserStep step : scenario.userSteps()) {
                userActs(git, repoDir, step);
            }
            Path bundle = dir.resolve("result.bundle");
            writeBundle(dir.resolve("ws"), prepared.agentBaseCommit(), agentTip, bundle);
            ImportResult imported = new BundleImporter().importBundle(repoDir, bundle, taskId, prepared.agentBaseCommit(), 1 << 24);
            assertThat(imported.hasCommits()).isEqualTo(!agentTip.name().equals(prepared.agentBaseCommit()));
            Set<ObjectId> reachableBefore = reachableCommits(repo);
            if (imported.hasCommits()) {
                assertThat(reachableBefore).contains(agentTip);
            }
            Map<String, ObjectId> branchesBefore = branches(repo);
            Ref headBefore = repo.exactRef(Constants.HEAD);
            String headTargetBefore = headBefore.isSymbolic() ? headBefore.getTarget().getName() : headBefore.getObjectId().name();
            Map<String, String> localChanges = localChanges(repo, repoDir);

            MergeResult result = new MergeBack().merge(new MergeRequest(repoDir, taskId, scenario.strategy(),
                    prepared.baseBranch(), prepared.baseCommit(), prepared.agentBaseCommit()));
            assertThat(reachableCommits(repo)).containsAll(reachableBefore);
            Map<String, String> localAfter = localChanges(repo, repoDir);
            for (Map.Entry<String, String> change : localChanges.entrySet()) {
                assertThat(readOrNull(repoDir, change.getKey())).as("local change of %s kept (%s)", change.getKey(), result)
                        .isEqualTo(change.getValue());
            }
            assertThat(localChanges.keySet()).as("merge made no new local changes: %s", result).containsAll(localAfter.keySet());
            for (Map.Entry<String, ObjectId> branch : branches(repo).entrySet()) {
                ObjectId before = branchesBefore.get(branch.getKey());
                if (before != null) {
                    assertThat(isAncestor(repo, before, branch.getValue())).as("%s only moved forward", branch.getKey()).isTrue();
                }
            }
            assertThat(branches(repo).keySet()).containsAll(branchesBefore.keySet());
            Ref headAfter = repo.exactRef(Constants.HEAD);
            assertThat(headAfter.isSymbolic() ? headAfter.getTarget().getName() : headAfter.getObjectId().name())
                    .isEqualTo(headTargetBefore);
            if (prepared.hasUncommittedBase()) {
                for (ObjectId tip : branches(repo).values()) {
                    assertThat(isAncestor(repo, ObjectId.fromString(prepared.agentBaseCommit()), tip))
                            .as("uncommitted-changes commit never merged").isFalse();
                }
            }
            if (result.merged() && result.newTip() != null && imported.hasCommits()) {
                assertThat(result.commits()).isEqualTo(imported.commitCount());
            }
            if (!result.merged() && imported.hasCommits()) {
                assertThat(result.taskRef()).isEqualTo(TaskRefNames.taskRef(taskId));
            }
        }
    }

    /** The agent's commits, made in its workspace repository without a working tree (fast). */
    private static ObjectId agentWorks(Path ws, List<List<Edit>> commits) throws Exception {
        try (Repository agent = Git.open(ws.toFile()).getRepository()) {
            ObjectId tip = agent.resolve(Constants.HEAD);
            for (List<Edit> commit : commits) {
                Map<String, String> changes = new HashMap<>();
                for (Edit e : commit) {
                    String path = name(e.file());
                    String current = changes.containsKey(path) ? changes.get(path) : contentAt(agent, tip, path);
                    changes.put(path, e.line() < 0 ? null
                            : edited(current == null ? initialContent(e.file()) : current, e.line(), "t" + e.token() + "@ws"));
                }
                tip = commitInMemory(agent, tip, changes);
            }
            setRef(agent, agent.exactRef(Constants.HEAD).getTarget().getName(), tip);
            return tip;
        }
    }

    private static String contentAt(Repository repo, ObjectId commit, String path) throws IOException {
        try (RevWalk walk = new RevWalk(repo); TreeWalk tw = TreeWalk.forPath(repo, path, walk.parseCommit(commit).getTree())) {
            return tw == null ? null : new String(repo.open(tw.getObjectId(0)).getBytes(), StandardCharsets.UTF_8);
        }
    }

    private static void userActs(Git git, Path repoDir, UserStep step) throws Exception {
        Repository repo = git.getRepository();
        Edit e = step.edit();
        Ref head = repo.exactRef(Constants.HEAD);
        boolean onMain = head.isSymbolic() && head.getTarget().getName().equals("refs/heads/main");
        ObjectId main = repo.resolve("refs/heads/main");
        switch (step.action()) {
            case EDIT -> applyEdit(repoDir, new Edit(e.file() % FILES, e.line(), e.token()));
            case STAGE -> {
                applyEdit(repoDir, new Edit(e.file() % FILES, Math.max(0, e.line()), e.token()));
                git.add().addFilepattern(name(e.file() % FILES)).call();
            }
            case UNTRACKED -> Files.writeString(repoDir.resolve("untracked-" + e.file() + ".txt"), "u" + e.token());
            case COMMIT -> {
                if (main == null) {
                    return;
                }
                if (onMain) {
                    String path = name(e.file());
                    Path file = repoDir.resolve(path);
                    String content = edited(Files.exists(file) ? Files.readString(file) : initialContent(e.file()),
                            Math.max(0, e.line()), "user" + e.token());
                    Files.writeString(file, content);
                    git.add().addFilepattern(path).call();
                    git.commit().setOnly(path).setMessage("user").setAuthor(USER).setCommitter(USER).setSign(false)
                            .setAllowEmpty(true).call();
                } else {
                    setRef(repo, "refs/heads/main", commitInMemory(repo, main, Map.of(name(e.file()), "user commit " + e.token())));
                }
            }
            case DETACH -> detach(repo);
            case DELETE_BRANCH -> {
                if (main != null) {
                    detach(repo);
                    RefUpdate delete = repo.updateRef("refs/heads/main");
                    delete.setForceUpdate(true);
                    delete.delete();
                }
            }
            case FORCE_MOVE -> {
                if (main != null) {
                    RevCommit first;
                    try (RevWalk walk = new RevWalk(repo)) {
                        RevCommit c = walk.parseCommit(main);
                        while (c.getParentCount() > 0) {
                            c = walk.parseCommit(c.getParent(0));
                        }
                        first = c;
                    }
                    setRef(repo, "refs/heads/main", commitInMemory(repo, first, Map.of(name(e.file()), "rewritten " + e.token())));
                }
            }
        }
    }

    private static void detach(Repository repo) throws IOException {
        ObjectId head = repo.resolve(Constants.HEAD);
        RefUpdate update = repo.updateRef(Constants.HEAD, true);
        update.setNewObjectId(head);
        update.forceUpdate();
    }

    private static void setRef(Repository repo, String name, ObjectId id) throws IOException {
        RefUpdate update = repo.updateRef(name);
        update.setNewObjectId(id);
        update.setForceUpdate(true);
        update.update();
    }

    /** A commit on {@code parent} with the given files replaced (null content deletes). */
    private static ObjectId commitInMemory(Repository repo, ObjectId parent, Map<String, String> changes) throws IOException {
        try (ObjectInserter ins = repo.newObjectInserter(); RevWalk walk = new RevWalk(repo)) {
            RevCommit p = walk.parseCommit(parent);
            DirCache dc = DirCache.newInCore();
            DirCacheBuilder b = dc.builder();
            b.addTree(new byte[0], 0, walk.getObjectReader(), p.getTree());
            b.finish();
            DirCacheBuilder edit = dc.builder();
            for (int i = 0; i < dc.getEntryCount(); i++) {
                if (!changes.containsKey(dc.getEntry(i).getPathString())) {
                    edit.add(dc.getEntry(i));
                }
            }
            for (Map.Entry<String, String> change : new TreeMap<>(changes).entrySet()) {
                if (change.getValue() != null) {
                    DirCacheEntry entry = new DirCacheEntry(change.getKey());
                    entry.setFileMode(FileMode.REGULAR_FILE);
                    entry.setObjectId(ins.insert(Constants.OBJ_BLOB, change.getValue().getBytes(StandardCharsets.UTF_8)));
                    edit.add(entry);
                }
            }
            edit.finish();
            CommitBuilder cb = new CommitBuilder();
            cb.setTreeId(dc.writeTree(ins));
            cb.setParentId(p);
            cb.setAuthor(USER);
            cb.setCommitter(USER);
            cb.setMessage("in memory");
            ObjectId id = ins.insert(cb);
            ins.flush();
            return id;
        }
    }

    private static void writeBundle(Path ws, String agentBase, ObjectId tip, Path out) throws IOException {
        if (tip.name().equals(agentBase)) {
            return;
        }
        try (Repository repo = Git.open(ws.toFile()).getRepository(); RevWalk walk = new RevWalk(repo);
             OutputStream os = Files.newOutputStream(out)) {
            BundleWriter writer = new BundleWriter(repo);
            writer.include(Constants.HEAD, tip);
            writer.assume(walk.parseCommit(ObjectId.fromString(agentBase)));
            writer.writeBundle(NullProgressMonitor.INSTANCE, os);
        }
    }

    /** Path → content (null when deleted) of every file that differs from HEAD or is untracked. */
    private static Map<String, String> localChanges(Repository repo, Path workTree) throws IOException {
        Map<String, String> headFiles = new HashMap<>();
        ObjectId head = repo.resolve(Constants.HEAD);
        try (RevWalk walk = new RevWalk(repo); TreeWalk tw = new TreeWalk(repo)) {
            tw.addTree(walk.parseCommit(head).getTree());
            tw.setRecursive(true);
            while (tw.next()) {
                headFiles.put(tw.getPathString(), new String(repo.open(tw.getObjectId(0)).getBytes(), StandardCharsets.UTF_8));
            }
        }
        Map<String, String> changes = new TreeMap<>();
        Set<String> seen = new HashSet<>();
        try (var files = Files.list(workTree)) {
            for (Path p : files.filter(Files::isRegularFile).toList()) {
                String name = p.getFileName().toString();
                seen.add(name);
                String content = Files.readString(p);
                if (!content.equals(headFiles.get(name))) {
                    changes.put(name, content);
                }
            }
        }
        for (String name : headFiles.keySet()) {
            if (!seen.contains(name)) {
                changes.put(name, null);
            }
        }
        return changes;
    }

    private static Set<ObjectId> reachableCommits(Repository repo) throws IOException {
        Set<ObjectId> all = new HashSet<>();
        try (RevWalk walk = new RevWalk(repo)) {
            for (Ref ref : repo.getRefDatabase().getRefs()) {
                if (ref.getObjectId() != null) {
                    walk.markStart(walk.parseCommit(ref.getObjectId()));
                }
            }
            ObjectId head = repo.resolve(Constants.HEAD);
            if (head != null) {
                walk.markStart(walk.parseCommit(head));
            }
            for (RevCommit c : walk) {
                all.add(c.copy());
            }
        }
        return all;
    }

    private static Map<String, ObjectId> branches(Repository repo) throws IOException {
        Map<String, ObjectId> map = new TreeMap<>();
        for (Ref ref : repo.getRefDatabase().getRefsByPrefix(Constants.R_HEADS)) {
            map.put(ref.getName(), ref.getObjectId());
        }
        return map;
    }

    private static boolean isAncestor(Repository repo, ObjectId ancestor, ObjectId tip) throws IOException {
        try (RevWalk walk = new RevWalk(repo)) {
            return walk.isMergedInto(walk.parseCommit(ancestor), walk.parseCommit(tip));
        }
    }

    private static void applyEdit(Path dir, Edit e) throws IOException {
        Path file = dir.resolve(name(e.file()));
        if (e.line() < 0) {
            Files.deleteIfExists(file);
            return;
        }
        String current = Files.exists(file) ? Files.readString(file) : initialContent(e.file());
        Files.writeString(file, edited(current, e.line(), "t" + e.token() + "@" + dir.getFileName()));
    }

    private static String edited(String content, int line, String token) {
        List<String> lines = new ArrayList<>(List.of(content.split("\n", -1)));
        while (lines.size() <= line) {
            lines.add("");
        }
        lines.set(line, token);
        return String.join("\n", lines);
    }

    private static String initialContent(int file) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < LINES; i++) {
            s.append("file").append(file).append(" line").append(i).append('\n');
        }
        return s.toString();
    }

    private static String name(int file) {
        return "f" + file + ".txt";
    }

    private static void writeFile(Path dir, int file, String content) throws IOException {
        Files.writeString(dir.resolve(name(file)), content);
    }

    private static String readOrNull(Path dir, String name) throws IOException {
        Path p = dir.resolve(name);
        return Files.isRegularFile(p) ? Files.readString(p) : null;
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Files.walkFileTree(from, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
                Files.createDirectories(to.resolve(from.relativize(d).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.copy(file, to.resolve(from.relativize(file).toString()), java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
