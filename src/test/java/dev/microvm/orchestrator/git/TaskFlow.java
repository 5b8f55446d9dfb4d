package dev.microvm.orchestrator.git;

import java.nio.file.Path;
import java.util.List;

/** Drives one task end to end as the orchestrator does, with the test acting as the guest. */
final class TaskFlow {
    final Path repo;
    final Path workspace;
    final Path bundle;
    final String taskId;
    final PreparedWorkspace prepared;

    TaskFlow(Path repo, Path root, String taskId, boolean includeUncommitted) throws GitTaskException {
        this(repo, root, taskId, null, includeUncommitted);
    }

    TaskFlow(Path repo, Path root, String taskId, String baseRef, boolean includeUncommitted) throws GitTaskException {
        this.repo = repo;
        this.taskId = taskId;
        this.workspace = root.resolve(taskId + "-ws");
        this.bundle = root.resolve(taskId + ".bundle");
        this.prepared = new WorkspacePreparer().prepare(new PrepareRequest(repo, workspace, baseRef, includeUncommitted,
                List.of(), repo.resolve(".git/objects").toString(), taskId));
    }

    /** The agent writes a file and commits it inside the workspace. */
    TaskFlow agentCommits(String path, String content) {
        GitFixture.write(workspace, path, content);
        GitFixture.commitAll(workspace, "agent: " + path);
        return this;
    }

    ImportResult importBundle() throws GitTaskException {
        GitFixture.bundle(workspace, prepared.agentBaseCommit(), bundle);
        return new BundleImporter().importBundle(repo, bundle, taskId, prepared.agentBaseCommit(), 64L << 20);
    }

    MergeResult merge(MergeStrategy strategy) throws GitTaskException {
        return new MergeBack().merge(new MergeRequest(repo, taskId, strategy, prepared.baseBranch(),
                prepared.baseCommit(), prepared.agentBaseCommit()));
    }
}
