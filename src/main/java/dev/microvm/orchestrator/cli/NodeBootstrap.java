package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.cluster.ClusterConfig;
import dev.microvm.orchestrator.cluster.ClusterServices;
import dev.microvm.orchestrator.cluster.ClusterVertx;
import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.stream.EventStreamOptions;
import dev.microvm.orchestrator.stream.EventStreamVerticle;
import dev.microvm.orchestrator.node.Node;
import dev.microvm.orchestrator.secrets.ApiProxyConfig;
import dev.microvm.orchestrator.secrets.ApiProxyVerticle;
import dev.microvm.orchestrator.secrets.Credential;
import dev.microvm.orchestrator.secrets.Credentials;
import dev.microvm.orchestrator.secrets.CredentialsException;
import dev.microvm.orchestrator.secrets.Redactor;
import dev.microvm.orchestrator.task.TaskLogs;
import dev.microvm.orchestrator.task.TaskPlacement;
import dev.microvm.orchestrator.vm.Drivers;
import dev.microvm.orchestrator.vm.HypervisorDriver;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Builds Vert.x and a full node from the state directory and command-line overrides: the core
 * verticles, the credential proxy (when credentials exist) and the event stream / dashboard (when
 * its port is free — only one process per host serves it).
 */
final class NodeBootstrap {

    private static final Logger LOG = LoggerFactory.getLogger(NodeBootstrap.class);

    private NodeBootstrap() {}

    record Started(Node node, EventStreamVerticle stream, ApiProxyVerticle proxy, ClusterVertx.Started cluster) {}

    static Started start(StatePaths paths, JsonObject overrides, boolean serveHttp) throws Exception {
        return start(paths, overrides, serveHttp, null);
    }

    /** With a cluster configuration the node joins that cluster and takes its member name as node id. */
    static Started start(StatePaths paths, JsonObject overrides, boolean serveHttp, ClusterConfig clusterConfig) throws Exception {
        OrchestratorConfig config = config(paths, overrides);
        VertxOptions vertxOptions = vertxOptions(config, serveHttp);
        ClusterVertx.Started cluster = clusterConfig == null ? null : ClusterVertx.start(clusterConfig, vertxOptions);
        Vertx vertx = cluster == null ? Vertx.vertx(vertxOptions) : cluster.vertx();
        return startOn(vertx, paths, config, serveHttp, cluster, clusterConfig);
    }

    static OrchestratorConfig config(StatePaths paths, JsonObject overrides) {
        OrchestratorConfig loaded = OrchestratorConfig.load(paths);
        OrchestratorConfig config = overrides != null && !overrides.isEmpty() ? loaded.merge(overrides, "command line") : loaded;
        Drivers.requireAvailable(config.driver());
        return config;
    }

    static Vertx createVertx(OrchestratorConfig config, boolean metrics) {
        return Vertx.vertx(vertxOptions(config, metrics));
    }

    private static VertxOptions vertxOptions(OrchestratorConfig config, boolean metrics) {
        return new VertxOptions().setWorkerPoolSize(Math.max(40, config.slots() * 4 + 20))
                .setMetricsOptions(metrics ? EventStreamVerticle.metricsOptions() : null)
                .setBlockedThreadCheckInterval(10).setBlockedThreadCheckIntervalUnit(TimeUnit.SECONDS);
    }

    static Started startOn(Vertx vertx, StatePaths paths, OrchestratorConfig config, boolean serveHttp) throws Exception {
        return startOn(vertx, paths, config, serveHttp, null, null);
    }

    private static Started startOn(Vertx vertx, StatePaths paths, OrchestratorConfig config, boolean serveHttp,
                                   ClusterVertx.Started cluster, ClusterConfig clusterConfig) throws Exception {
        HypervisorDriver driver = Drivers.create(config, paths);
        Redactor redactor = Redactor.global();
        TaskLogs.setRedactor(redactor::redact);
        String nodeId = cluster != null ? clusterConfig.nodeName()
                : java.net.InetAddress.getLocalHost().getHostName() + "-" + ProcessHandle.current().pid();
        Optional<Credential> credential = loadCredential(paths);
        credential.ifPresent(c -> redactor.register(c.secret()));
        Node.Options options = new Node.Options(config, driver, nodeId, Clock.systemUTC(), redactor::redact, () -> credential,
                cluster != null ? ClusterServices.placement(cluster, nodeId) : TaskPlacement.local());
        Node node = await(Node.start(vertx, paths, options));
        ApiProxyVerticle proxy = credential.isPresent() && "proxy".equals(config.credentialMode())
                ? startProxy(vertx, node, config, credential.get(), redactor) : null;
        // network allowlist: the host-side proxy that lets a task's guest reach only its listed domains
        await(vertx.deployVerticle(new dev.microvm.orchestrator.secrets.EgressProxyVerticle()));
        EventStreamVerticle stream = null;
        if (serveHttp && config.httpPort() > 0) {
            stream = new EventStreamVerticle(EventStreamOptions.loopback(config.httpPort()), paths);
            await(vertx.deployVerticle(stream));
            if (stream.outcome() == EventStreamVerticle.Outcome.SERVING) {
                System.err.println("dashboard: " + stream.dashboardLink());
            } else {
                LOG.info("dashboard not served by this process ({})", stream.outcome());
            }
        }
        return new Started(node, stream, proxy, cluster);
    }

    private static Optional<Credential> loadCredential(StatePaths paths) {
        try {
            return Optional.of(Credentials.fromSystem(paths).load());
        } catch (CredentialsException e) {
            LOG.info("no API credentials configured; tasks that run Claude Code need them ({})", e.getMessage());
            return Optional.empty();
        }
    }

    private static ApiProxyVerticle startProxy(Vertx vertx, Node node, OrchestratorConfig config, Credential credential,
                                               Redactor redactor) throws Exception {
        ApiProxyVerticle proxy = new ApiProxyVerticle(new ApiProxyConfig("127.0.0.1", config.apiProxyPort(),
                URI.create(config.apiUpstream())), credential, node.events(), redactor);
        await(vertx.deployVerticle(proxy));
        return proxy;
    }

    static <T> T await(Future<T> f) throws Exception {
        return f.toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
    }
}
