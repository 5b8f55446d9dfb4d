package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.StreamJsonProgress;
import dev.microvm.orchestrator.git.BundleImporter;
import dev.microvm.orchestrator.git.GitTaskException;
import dev.microvm.orchestrator.git.ImportResult;
import dev.microvm.orchestrator.git.MergeBack;
import dev.microvm.orchestrator.git.MergeRequest;
import dev.microvm.orchestrator.git.MergeStrategy;
import dev.microvm.orchestrator.git.PrepareRequest;
import dev.microvm.orchestrator.git.PreparedWorkspace;
import dev.microvm.orchestrator.git.TaskDiff;
import dev.microvm.orchestrator.git.TaskRefs;
import dev.microvm.orchestrator.git.WorkspacePreparer;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.EventSink;
import dev.microvm.orchestrator.secrets.Credential;
import dev.microvm.orchestrator.secrets.GuestCredentialFile;
import dev.microvm.orchestrator.secrets.GuestFile;
import dev.microvm.orchestrator.secrets.GuestOutputReader;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.util.AtomicFiles;
import dev.microvm.orchestrator.util.FileTrees;
import dev.microvm.orchestrator.vm.Drivers;
import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.GuestImage;
import dev.microvm.orchestrator.vm.MappedOwnership;
import dev.microvm.orchestrator.vm.HypervisorDriver;
import dev.microvm.orchestrator.vm.SlotDisk;
import dev.microvm.orchestrator.vm.TaskIo;
import dev.microvm.orchestrator.vm.VmException;
import dev.microvm.orchestrator.vm.VmHandle;
import dev.microvm.orchestrator.vm.VmSpec;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.charset.StandardCharsets;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * The blocking operations behind the worker pool's addresses: task records and events, workspace
 * preparation, the VM's lifecycle, collecting the guest's results and merging them back.
 */
public final class TaskOperations {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TaskOperations.class);

    /** The agent a task runs when it names no agent_command. */
    static final String DEFAULT_AGENT = "claude";
    private static final int MAX_LOG_SLICE = 64 * 1024;

    private final StatePaths paths;
    private final OrchestratorConfig config;
    private final TaskStore store;
    private final EventSink events;
    private final HypervisorDriver driver;
    private final TaskOwnership ownership;
    private final UnaryOperator<String> redactor;
    private final java.util.function.Supplier<Optional<Credential>> credentials;
    private final Map<String, VmHandle> handles = new ConcurrentHashMap<>();
    private final Map<String, StreamJsonProgress> progress = new ConcurrentHashMap<>();

    public TaskOperations(StatePaths paths, OrchestratorConfig config, TaskStore store, EventSink events,
                          HypervisorDriver driver, TaskOwnership ownership, UnaryOperator<String> redactor,
                          java.util.function.Supplier<Optional<Credential>> credentials) {
        this.credentials = credentials;
        this.paths = paths;
        this.config = config;
        this.store = store;
        this.events = events;
        this.driver = driver;
        this.ownership = ownership;
        this.redactor = redactor;
    }

    public Map<String, Function<JsonObject, JsonObject>> operations() {
        Map<String, Function<JsonObject, JsonObject>> ops = new HashMap<>();
        ops.put(Addresses.WORKER_OWN, b -> new JsonObject().put("owned", ownership.own(id(b))));
        ops.put(Addresses.WORKER_DISOWN, b -> {
            ownership.disown(id(b));
            handles.remove(id(b));
            progress.remove(id(b));
            return new JsonObject();
        });
        ops.put(Addresses.WORKER_PERSIST, this::persist);
        ops.put(Addresses.WORKER_PREPARE, this::prepare);
        ops.put(Addresses.WORKER_VM_START, this::vmStart);
        ops.put(Addresses.WORKER_VM_AWAIT, this::vmAwait);
        ops.put(Addresses.WORKER_VM_STOP, this::vmStop);
        ops.put(Addresses.WORKER_VM_RECOVER, this::vmRecover);
        ops.put(Addresses.WORKER_COLLECT, this::collect);
        ops.put(Addresses.WORKER_MERGE, this::merge);
        ops.put(Addresses.WORKER_DIFF, this::diff);
        ops.put(Addresses.WORKER_CLEANUP, this::cleanup);
        return ops;
    }

    // ---------------------------------------------------------------- records and events

    private JsonObject persist(JsonObject b) {
        JsonObject rec = b.getJsonObject("record");
        Long acceptBefore = b.getLong("accept_before");
        if (acceptBefore != null && System.currentTimeMillis() > acceptBefore) {
            // the caller has given up (or will before this reply reaches it): no task may appear
            throw new WorkerFailure("request_expired", "the request timed out before the task was recorded; no task was created");
        }
        if (rec != null) store.save(TaskRecord.fromJson(rec));
        JsonObject ev = b.getJsonObject("event");
        if (ev == null) return new JsonObject();
        JsonObject data = ev.getJsonObject("data", new JsonObject());
        if (data.containsKey("lines")) {
            JsonArray scrubbed = new JsonArray();
            data.getJsonArray("lines").forEach(l -> scrubbed.add(redactor.apply(String.valueOf(l))));
            data = data.copy().put("lines", scrubbed);
        }
        long seq = events.appendAndPublish(ev.getString("type"), ev.getString("task_id"), data).seq();
        return new JsonObject().put("seq", seq);
    }

    // ---------------------------------------------------------------- prepare and boot

    private JsonObject prepare(JsonObject b) {
        TaskRecord r = load(b);
        Path userRepo = Path.of(r.repoPath());
        Path workspace = paths.taskWorkspace(r.id());
        try {
            deleteTree(workspace);
            Path objects = UserObjects.directory(userRepo);
            // the user's objects are shared read-only where the driver can (alternates); elsewhere they are cloned
            String seenByAgent = driver.capabilities().readOnlyShares()
                    ? driver.guestPath(new VmSpec.Share(objects, GuestContract.TAG_OBJECTS, true)) : null;
            Optional<GuestImage> image = guestImage();
            if (r.options().agentCommand() == null && image.isPresent() && image.get().agent(DEFAULT_AGENT).isEmpty()) {
                throw new WorkerFailure("agent_not_found", "agent `" + DEFAULT_AGENT + "` not found in guest image " + image.get().dir()
                        + " (its manifest lists " + image.get().agents() + "); build the agent image with scripts/build-guest.sh agent, "
                        + "or give the task an agent_command");
            }
            PreparedWorkspace prepared = new WorkspacePreparer().prepare(new PrepareRequest(userRepo, workspace,
                    r.options().baseRef(), r.options().includeUncommitted(), r.options().untrackedPatterns(), seenByAgent, r.id()));
            if (image.isPresent() && driver.capabilities().mapsShareOwnership()) {
                // the agent is an unprivileged guest user and must own the workspace it edits
                MappedOwnership.stamp(workspace, image.get().agentUser().uid(), image.get().agentUser().gid());
            }
            int timeout = r.options().timeoutSeconds() != null ? r.options().timeoutSeconds() : config.taskTimeoutSeconds();
            JsonObject proxy = b.getJsonObject("proxy");
            int proxyPort = proxy == null ? 0 : proxy.getInteger("port", 0);
            JsonObject egress = b.getJsonObject("egress");
            int egressPort = egress == null ? 0 : egress.getInteger("port", 0);
            Map<String, String> env = new java.util.TreeMap<>();
            VmSpec.Network net = network(r, proxyPort, egressPort);
            VmSpec probeSpec = specFor(r.withPrepared(new JsonObject().put("proxy_port", proxyPort).put("egress_port", egressPort)), net);
            Optional<String> egressUrl = driver.egressProxyUrlForGuest(probeSpec);
            if (egressUrl.isPresent()) {
                // allowlist: every client that honours the usual variables goes through the egress proxy,
                // except to the credential proxy, which is a channel of its own
                for (String k : List.of("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")) env.put(k, egressUrl.get());
                String direct = driver.apiBaseUrlForGuest(probeSpec).map(u -> java.net.URI.create(u).getHost() + ",").orElse("") + "localhost,127.0.0.1";
                env.put("NO_PROXY", direct);
                env.put("no_proxy", direct);
            }
            if (proxy != null) {
                // the guest gets the proxy's address and a placeholder; the real credential stays on the host
                String baseUrl = driver.apiBaseUrlForGuest(probeSpec)
                        .orElseThrow(() -> new WorkerFailure("no_api_route", "the " + driver.name() + " driver offers the guest no route to the API proxy"));
                env.put("ANTHROPIC_BASE_URL", baseUrl);
                env.put("ANTHROPIC_API_KEY", proxy.getString("token"));
                env.put("DISABLE_AUTOUPDATER", "1");
                env.put("DISABLE_TELEMETRY", "1");
                env.put("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
            }
            env.put(GuestContract.ENV_TASK_ID, r.id());
            env.put(GuestContract.ENV_BASE_COMMIT, prepared.agentBaseCommit());
            env.put(GuestContract.ENV_AGENT_CMD, r.options().agentCommand() == null ? "" : r.options().agentCommand());
            env.put(GuestContract.ENV_TIMEOUT_SECS, Integer.toString(timeout));
            image.ifPresent(i -> env.put(GuestContract.ENV_IMAGE_VERSION, i.imageVersion()));
            deleteTree(paths.taskIo(r.id()));
            TaskIo.write(paths.taskIo(r.id()), env, r.description());
            if (proxy != null) {
                AtomicFiles.write(paths.taskProxyToken(r.id()), proxy.getString("token").getBytes(StandardCharsets.UTF_8), "rw-------");
            }
            if ("file".equals(config.credentialMode())) writeGuestCredential(r);
            JsonObject out = new JsonObject().put("base_commit", prepared.baseCommit()).put("base_branch", baseBranch(r, prepared))
                    .put("agent_base_commit", prepared.agentBaseCommit()).put("method", prepared.method())
                    .put("shared_objects_dir", prepared.sharedObjectsDir() == null ? null : prepared.sharedObjectsDir().toString())
                    .put("copied_untracked", new JsonArray(prepared.copiedUntracked()))
                    .put("proxy_port", proxyPort).put("egress_port", egressPort);
            return new JsonObject().put("prepared", out);
        } catch (GitTaskException e) {
            throw new WorkerFailure(e.reason(), e.getMessage(), e);
        } catch (IOException e) {
            throw new WorkerFailure("prepare_failed", "cannot prepare the workspace: " + e.getMessage(), e);
        }
    }

    /**
     * A follow-up task (continue_task) starts from its parent's commits, refs/tasks/&lt;parent&gt;,
     * which is no branch; its work belongs on the branch the parent was merged into.
     */
    private String baseBranch(TaskRecord r, PreparedWorkspace prepared) {
        if (prepared.baseBranch() != null || r.parentTaskId() == null) return prepared.baseBranch();
        if (!("refs/tasks/" + r.parentTaskId()).equals(r.options().baseRef())) return null;
        return store.load(r.parentTaskId()).map(TaskRecord::prepared).map(p -> p.getString("base_branch")).orElse(null);
    }

    /** Each handle the driver starts is recorded before the guest is waited for (a retry replaces it). */
    private VmHandle boot(TaskRecord r, VmSpec spec) throws VmException, IOException, InterruptedException {
        return driver.boot(spec, Duration.ofSeconds(config.bootTimeoutSeconds()), handle -> {
            AtomicFiles.write(paths.taskHandle(r.id()), handle.toJson().encodePrettily());
            handles.put(r.id(), handle);
        });
    }

    private JsonObject vmStart(JsonObject b) {
        TaskRecord r = load(b);
        try {
            JsonObject prepared = r.prepared() == null ? new JsonObject() : r.prepared();
            VmSpec spec = specFor(r, network(r, prepared.getInteger("proxy_port", 0), prepared.getInteger("egress_port", 0)));
            VmHandle handle = boot(r, spec);
            return new JsonObject().put("pid", handle.pid());
        } catch (VmException e) {
            throw new WorkerFailure(e.reason(), e.getMessage(), e);
        } catch (IOException e) {
            throw new WorkerFailure("start_failed", "cannot record the VM handle: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new WorkerFailure("interrupted", "interrupted while the VM booted");
        } catch (IllegalArgumentException e) {
            throw new WorkerFailure("boot_failed", e.getMessage(), e);
        }
    }

    /** Opt-in only (credential_mode file): the runner reads this 0600 file and deletes it. */
    private void writeGuestCredential(TaskRecord r) throws IOException {
        Optional<Credential> credential = credentials.get();
        if (credential.isPresent()) {
            GuestCredentialFile.write(paths.taskIo(r.id()), credential.get());
        } else if (r.options().agentCommand() == null) {
            throw new WorkerFailure("no_credentials", "credential_mode is file but no credential is configured: set ANTHROPIC_API_KEY "
                    + "or CLAUDE_CODE_OAUTH_TOKEN, or run: microvm-orchestrator setup-token");
        }
    }

    VmSpec specFor(TaskRecord r, VmSpec.Network network) throws IOException {
        JsonObject prepared = r.prepared() == null ? new JsonObject() : r.prepared();
        int cpus = r.options().cpus() != null ? r.options().cpus() : config.vmCpus();
        int mem = r.options().memoryMiB() != null ? r.options().memoryMiB() : config.vmMemoryMiB();
        Optional<GuestImage> image = guestImage();
        VmSpec.Boot boot = image.map(i -> i.boot(null))
                .orElseGet(() -> new VmSpec.Boot(config.guestDir().resolve("no-kernel"), null, "")); // the process driver boots nothing
        List<VmSpec.Share> shares = new ArrayList<>();
        shares.add(new VmSpec.Share(paths.taskWorkspace(r.id()), GuestContract.TAG_WORKSPACE, false));
        shares.add(new VmSpec.Share(paths.taskIo(r.id()), GuestContract.TAG_IO, false));
        String objects = prepared.getString("shared_objects_dir");
        if (objects != null) shares.add(new VmSpec.Share(Path.of(objects), GuestContract.TAG_OBJECTS, true));
        List<VmSpec.Disk> disks = new ArrayList<>(image.map(GuestImage::vmDisks).orElse(List.of()));
        disks.add(new VmSpec.Disk(slotDisk(r.slot()), false, GuestContract.DISK_SLOT));
        Path control = AtomicFiles.privateDirectory(paths.runDir().resolve(r.id()));
        return new VmSpec("mvo-" + r.id(), cpus, mem, boot, disks, shares, network, paths.taskConsoleLog(r.id()),
                control, Map.of("task_id", r.id(), "slot", String.valueOf(r.slot())));
    }

    /** The configured image, read through its manifest; empty for a driver that boots none. */
    private Optional<GuestImage> guestImage() {
        try {
            return Drivers.image(config, driver);
        } catch (GuestImage.InvalidImage e) {
            throw new WorkerFailure("invalid_image", e.getMessage(), e);
        }
    }

    private VmSpec.Network network(TaskRecord r, int proxyPort, int egressPort) {
        String policy = r.options().network() != null ? r.options().network() : config.defaultNetwork();
        return switch (policy) {
            case "none" -> VmSpec.Network.none();
            case "allowlist" -> {
                if (egressPort <= 0) {
                    throw new WorkerFailure("network_unavailable", "network allowlist needs the egress proxy, and none is running in this "
                            + "orchestrator process; the task is not started with a weaker network");
                }
                yield new VmSpec.Network(VmSpec.Network.Mode.ALLOWLIST, proxyPort, egressPort);
            }
            case "api-only" -> proxyPort > 0 ? new VmSpec.Network(VmSpec.Network.Mode.API_ONLY, proxyPort) : VmSpec.Network.none();
            default -> proxyPort > 0 ? new VmSpec.Network(VmSpec.Network.Mode.NAT, proxyPort) : VmSpec.Network.nat();
        };
    }

    private Path slotDisk(Integer slot) throws IOException {
        if (slot == null) throw new WorkerFailure("slot_unavailable", "the task has no slot");
        Path disk = paths.slotDir(slot).resolve("disk.img");
        SlotDisk.ensure(disk, (long) config.slotDiskGiB() << 30);
        return disk;
    }

    // ---------------------------------------------------------------- run

    private JsonObject vmAwait(JsonObject b) {
        String id = id(b);
        VmHandle handle = handle(id).orElseThrow(() -> new WorkerFailure("vm_lost", "no VM handle recorded for task " + id));
        long millis = Math.max(1, Math.min(10_000, b.getLong("millis", 1000L)));
        JsonObject out = new JsonObject();
        try {
            Optional<HypervisorDriver.VmExit> exit = driver.await(handle, Duration.ofMillis(millis));
            out.put("running", exit.isEmpty());
            exit.ifPresent(e -> out.put("exit", new JsonObject().put("code", e.exitCode()).put("forced", e.forced()).put("detail", e.detail())));
        } catch (VmException e) {
            throw new WorkerFailure(e.reason(), e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.put("running", true);
        }
        out.put("cancel_requested", Files.exists(paths.taskDir(id).resolve("cancel")));
        tailConsole(id, b.getLong("log_offset", 0L), out, !out.getBoolean("running"));
        return out;
    }

    /**
     * The console lines after {@code offset}, at most one slice; {@code log_more} says there is more
     * to read. Once the VM has {@code ended}, an unfinished last line counts as complete.
     */
    private void tailConsole(String id, long offset, JsonObject out, boolean ended) {
        Path log = paths.taskConsoleLog(id);
        out.put("log_offset", offset);
        if (!Files.isRegularFile(log, LinkOption.NOFOLLOW_LINKS)) return;
        try (var ch = Files.newByteChannel(log)) {
            long size = ch.size();
            if (size <= offset) return;
            ch.position(offset);
            var buf = java.nio.ByteBuffer.allocate((int) Math.min(MAX_LOG_SLICE, size - offset));
            while (buf.hasRemaining() && ch.read(buf) > 0) { }
            ConsoleSlice.Result slice = ConsoleSlice.of(buf.array(), buf.position(), buf.position() == MAX_LOG_SLICE, ended);
            if (slice.consumed() == 0) return; // wait for the line to complete
            JsonObject latest = null;
            StreamJsonProgress parser = progress.computeIfAbsent(id, k -> new StreamJsonProgress());
            for (String line : slice.completeLines()) {
                // the runner copies the agent's stream-json output to the console
                int json = line.indexOf('{');
                if (json >= 0) latest = parser.accept(line.substring(json)).orElse(latest);
            }
            out.put("log_offset", offset + slice.consumed()).put("log_lines", slice.lines())
                    .put("log_more", offset + slice.consumed() < size);
            if (!slice.continues().isEmpty()) out.put("log_continues", slice.continues());
            slice.skippedBytes().ifPresent(n -> out.put("output_skipped", n));
            if (latest != null) out.put("progress", latest);
        } catch (IOException e) {
            // the console is informational; a read problem never fails the task
        }
    }

    private JsonObject vmStop(JsonObject b) {
        String id = id(b);
        Optional<VmHandle> handle = handle(id);
        if (handle.isEmpty()) {
            driver.findOrphans("mvo-" + id).forEach(driver::destroy);
            return new JsonObject().put("exit", new JsonObject().put("detail", "no VM was running"));
        }
        try {
            HypervisorDriver.VmExit exit = driver.stop(handle.get(), Duration.ofSeconds(b.getInteger("grace_seconds", config.stopGraceSeconds())));
            return new JsonObject().put("exit", new JsonObject().put("code", exit.exitCode()).put("forced", exit.forced()).put("detail", exit.detail()));
        } catch (VmException e) {
            throw new WorkerFailure(e.reason(), e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new WorkerFailure("interrupted", "interrupted while stopping the VM");
        }
    }

    private JsonObject vmRecover(JsonObject b) {
        String id = id(b);
        Optional<VmHandle> handle = handle(id);
        if (handle.isEmpty()) {
            // crashed between spawning the hypervisor and recording its handle: never leave it running
            List<VmHandle> orphans = driver.findOrphans("mvo-" + id);
            orphans.forEach(driver::destroy);
            if (orphans.isEmpty()) return new JsonObject().put("status", "never_started").put("detail", "the VM was never started");
            return new JsonObject().put("status", "lost").put("detail", "the VM started but its handle was never recorded; it was destroyed");
        }
        HypervisorDriver.RecoverResult rr = driver.recover(handle.get());
        if (rr.handle() != null) handles.put(id, rr.handle());
        String status = switch (rr.status()) {
            case RUNNING -> "running";
            case STOPPED -> "stopped";
            case LOST -> "lost";
        };
        JsonObject reply = new JsonObject().put("status", status).put("detail", rr.detail());
        if (rr.status() == HypervisorDriver.VmStatus.RUNNING) proxyRoute(load(b)).ifPresent(p -> reply.put("proxy", p));
        return reply;
    }

    /**
     * The placeholder and proxy port a running VM was booted with: the process adopting it registers
     * them with its own API proxy so the agent keeps its route to the API.
     */
    private Optional<JsonObject> proxyRoute(TaskRecord r) {
        int port = r.prepared() == null ? 0 : r.prepared().getInteger("proxy_port", 0);
        Path file = paths.taskProxyToken(r.id());
        if (port <= 0 || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) return Optional.empty();
        try {
            return Optional.of(new JsonObject().put("token", Files.readString(file, StandardCharsets.UTF_8).strip()).put("port", port));
        } catch (IOException e) {
            LOG.warn("cannot read the proxy placeholder of task {}: {}", r.id(), e.getMessage());
            return Optional.empty();
        }
    }

    // ---------------------------------------------------------------- results

    private JsonObject collect(JsonObject b) {
        TaskRecord r = load(b);
        Path io = paths.taskIo(r.id());
        Path out = io.resolve(GuestContract.OUT_DIR);
        JsonObject reply = new JsonObject();
        try {
            if (Files.isSymbolicLink(out)) throw new IOException("the guest replaced its output directory with a link");
            Integer exitCode = new GuestOutputReader(io, 64).readIfPresent(GuestContract.OUT_EXIT_CODE)
                    .map(f -> f.text().trim()).filter(s -> s.matches("-?\\d{1,9}")).map(Integer::parseInt).orElse(null);
            reply.put("exit_code", exitCode);
            String agentTail = new GuestOutputReader(io, 256 * 1024).readTailIfPresent(GuestContract.OUT_AGENT_LOG)
                    .map(GuestFile::text).orElse("");
            reply.put("result", AgentResult.parse(agentTail, redactor));
            String runnerError = new GuestOutputReader(io, 4096).readIfPresent(GuestContract.OUT_AGENT_ERROR).map(GuestFile::text).orElse(null);
            String agentError = AgentExit.describe(exitCode, runnerError == null ? null : redactor.apply(runnerError),
                    r.options().agentCommand() == null ? DEFAULT_AGENT : "agent_command", redactor.apply(agentTail));
            if (agentError != null) reply.put("agent_error", agentError);
            boolean done = new GuestOutputReader(io, 0).isReadable(GuestContract.OUT_DONE);
            reply.put("finished", done);
            String agentBase = r.prepared() == null ? null : r.prepared().getString("agent_base_commit");
            Path bundle = io.resolve(GuestContract.OUT_BUNDLE);
            if (agentBase != null && Files.exists(bundle, LinkOption.NOFOLLOW_LINKS)) {
                ImportResult imported = new BundleImporter().importBundle(Path.of(r.repoPath()), bundle, r.id(), agentBase, config.maxBundleBytes());
                reply.put("commits", imported.commitCount()).put("task_tip", imported.tip()).put("task_ref", imported.taskRef());
            } else {
                reply.put("commits", 0);
            }
            if (!done) {
                reply.put("reason", "guest_incomplete").put("error",
                        "the VM stopped before the task runner finished; see get_task_logs (stream console)");
            } else if (exitCode == null) {
                // the runner writes exit_code before done; without it the agent's outcome is unknown, not success
                reply.put("reason", "guest_output_invalid").put("error",
                        "the guest reported done without a readable exit code (out/exit_code missing, not a regular file or not a number)");
            }
        } catch (GitTaskException e) {
            reply.put("reason", e.reason()).put("error", e.getMessage());
        } catch (IOException e) {
            reply.put("reason", "guest_output_invalid").put("error", e.getMessage());
        }
        return reply;
    }

    private JsonObject merge(JsonObject b) {
        TaskRecord r = load(b);
        JsonObject p = r.prepared();
        if (p == null) throw new WorkerFailure("nothing_to_merge", "task " + r.id() + " never prepared a workspace; there is nothing to merge");
        try {
            return new MergeBack().merge(new MergeRequest(Path.of(r.repoPath()), r.id(), MergeStrategy.parse(b.getString("strategy", "auto")),
                    p.getString("base_branch"), p.getString("base_commit"), p.getString("agent_base_commit"))).toJson();
        } catch (GitTaskException e) {
            throw new WorkerFailure(e.reason(), e.getMessage(), e);
        }
    }

    private JsonObject diff(JsonObject b) {
        TaskRecord r = load(b);
        JsonObject p = r.prepared();
        if (p == null) throw new WorkerFailure("nothing_to_diff", "task " + r.id() + " has no workspace base; nothing to diff");
        try {
            int limit = Math.max(1, Math.min(512 * 1024, b.getInteger("limit", 64 * 1024)));
            return new TaskDiff().diff(Path.of(r.repoPath()), r.id(), p.getString("agent_base_commit"), b.getLong("offset", 0L), limit)
                    .toJson().put("task_id", r.id());
        } catch (GitTaskException e) {
            throw new WorkerFailure(e.reason(), e.getMessage(), e);
        }
    }

    private JsonObject cleanup(JsonObject b) {
        TaskRecord r = load(b);
        try {
            List<String> removed = new ArrayList<>(TaskRefs.cleanup(Path.of(r.repoPath()), r.id(), b.getBoolean("delete_ref", false)));
            for (Path dir : List.of(paths.taskWorkspace(r.id()), paths.taskIo(r.id()), paths.runDir().resolve(r.id()))) {
                if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                    deleteTree(dir);
                    removed.add(paths.root().relativize(dir).toString());
                }
            }
            return new JsonObject().put("success", true).put("task_id", r.id()).put("removed", new JsonArray(removed));
        } catch (GitTaskException e) {
            throw new WorkerFailure(e.reason(), e.getMessage(), e);
        } catch (IOException e) {
            throw new WorkerFailure("cleanup_failed", e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- helpers

    private Optional<VmHandle> handle(String id) {
        VmHandle h = handles.get(id);
        if (h != null) return Optional.of(h);
        Path file = paths.taskHandle(id);
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) return Optional.empty();
        try {
            h = VmHandle.fromJson(new JsonObject(Files.readString(file)));
            handles.put(id, h);
            return Optional.of(h);
        } catch (IOException | RuntimeException e) {
            throw new WorkerFailure("vm_lost", "the VM handle of task " + id + " is unreadable: " + e.getMessage());
        }
    }

    private TaskRecord load(JsonObject b) {
        String id = id(b);
        return store.load(id).orElseThrow(() -> new IllegalArgumentException("unknown task '" + id + "'"));
    }

    private static String id(JsonObject b) {
        return dev.microvm.orchestrator.task.TaskIds.require(b.getString("task_id"));
    }

    /** Deletes a directory tree without ever following a link out of it. */
    static void deleteTree(Path root) throws IOException {
        FileTrees.delete(root);
    }

    static UncheckedIOException unchecked(IOException e) {
        return new UncheckedIOException(e);
    }
}
