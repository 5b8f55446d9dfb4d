package dev.microvm.orchestrator.cluster;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.PfxOptions;
import io.vertx.ext.cluster.infinispan.InfinispanClusterManager;
import org.infinispan.configuration.cache.CacheMode;
import org.infinispan.configuration.cache.ConfigurationBuilder;
import org.infinispan.configuration.global.GlobalConfigurationBuilder;
import org.infinispan.manager.DefaultCacheManager;
import org.infinispan.remoting.transport.jgroups.JGroupsTransport;
import org.jgroups.JChannel;
import org.jgroups.protocols.FD_ALL3;
import org.jgroups.protocols.FRAG4;
import org.jgroups.protocols.MERGE3;
import org.jgroups.protocols.MFC;
import org.jgroups.protocols.TCP;
import org.jgroups.protocols.TCPPING;
import org.jgroups.protocols.UFC;
import org.jgroups.protocols.UNICAST3;
import org.jgroups.protocols.VERIFY_SUSPECT2;
import org.jgroups.protocols.pbcast.GMS;
import org.jgroups.protocols.pbcast.NAKACK2;
import org.jgroups.protocols.pbcast.STABLE;
import org.jgroups.util.TLS;
import org.jgroups.util.TLSClientAuth;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A clustered Vert.x on Infinispan over JGroups, locked down:
 * <ul>
 *   <li>membership and cluster state travel only over JGroups' TCP transport wrapped in mutual TLS
 *       with this cluster's CA and member names ({@link ClusterTls}); there is no multicast, no UDP
 *       and no discovery beyond the configured member list (TCPPING);</li>
 *   <li>failure detection is heartbeat-based (FD_ALL3) over that same transport, so no plain
 *       socket is opened for it; a killed or frozen member is suspected after ~3 s and removed;</li>
 *   <li>the event bus runs TLS 1.3 with required client certificates from the cluster CA. (Vert.x
 *       passes event-bus TLS options through JSON, so the member-name check cannot be added there;
 *       a certificate for a name outside the member list never gets into the membership, hence
 *       never learns or receives an address, but the CA must only ever sign members.)</li>
 * </ul>
 */
public final class ClusterVertx {

    /** Heartbeat every second; suspect after {@code suspect_after_ms} (3 s by default), verify for one more. */
    static final long HEARTBEAT_MS = 1_000;

    private ClusterVertx() {}

    /** A started, clustered Vert.x plus the cache manager (for membership listeners). Blocking. */
    public record Started(Vertx vertx, DefaultCacheManager cacheManager, ClusterMembership membership) {}

    public static Started start(ClusterConfig config, VertxOptions base) throws Exception {
        ClusterTls tls = ClusterTls.load(config);
        JChannel channel = channel(config, tls);
        GlobalConfigurationBuilder global = new GlobalConfigurationBuilder();
        global.transport().clusterName(config.clusterName()).nodeName(config.nodeName()).transport(new JGroupsTransport(channel));
        global.defaultCacheName("distributed-cache");
        DefaultCacheManager cacheManager = new DefaultCacheManager(global.build(),
                new ConfigurationBuilder().clustering().cacheMode(CacheMode.DIST_SYNC).build(), false);
        for (String replicated : List.of("__vertx.subs", "__vertx.haInfo", "__vertx.nodeInfo")) {
            cacheManager.defineConfiguration(replicated, new ConfigurationBuilder().clustering().cacheMode(CacheMode.REPL_SYNC).build());
        }
        cacheManager.defineConfiguration("__vertx.distributed.cache.configuration",
                new ConfigurationBuilder().clustering().cacheMode(CacheMode.DIST_SYNC).template(true).build());
        cacheManager.start();
        ClusterMembership membership = new ClusterMembership(cacheManager);

        EventBusOptions bus = new EventBusOptions()
                .setHost(config.bindHost()).setPort(config.eventBusPort())
                .setClusterPublicHost(config.bindHost()).setClusterPublicPort(config.eventBusPort())
                .setSsl(true).setClientAuth(ClientAuth.REQUIRED)
                // the clustered event bus copies these options through JSON: only value-based options survive
                .setKeyCertOptions(new PfxOptions().setValue(Buffer.buffer(Files.readAllBytes(config.keyStore())))
                        .setPassword(new String(ClusterTls.readPassword(config.keyStorePassword()))))
                .setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(Files.readAllBytes(config.caCertificate()))));
        bus.getEnabledSecureTransportProtocols().clear();
        bus.addEnabledSecureTransportProtocol("TLSv1.3");
        VertxOptions options = new VertxOptions(base).setEventBusOptions(bus);
        Vertx vertx = Vertx.builder().with(options).withClusterManager(new InfinispanClusterManager(cacheManager))
                .buildClustered().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        return new Started(vertx, cacheManager, membership);
    }

    static JChannel channel(ClusterConfig config, ClusterTls tls) throws Exception {
        TCP tcp = new TCP();
        tcp.setBindAddress(InetAddress.getByName(config.bindHost()));
        tcp.setBindPort(config.membershipPort());
        tcp.setPortRange(0);
        tcp.setSocketFactory(new TLS().setClientAuth(TLSClientAuth.NEED).createSocketFactory(tls.context()));
        TCPPING ping = new TCPPING();
        ping.setInitialHosts(config.members().stream().map(m -> new InetSocketAddress(m.host(), m.port())).toList());
        ping.setPortRange(0);
        JChannel channel = new JChannel(
                tcp,
                ping,
                new MERGE3().setMinInterval(2_000).setMaxInterval(5_000),
                new FD_ALL3().setTimeout(config.suspectAfterMs()).setInterval(HEARTBEAT_MS),
                new VERIFY_SUSPECT2().setTimeout(1_000),
                new NAKACK2().useMcastXmit(false),
                new UNICAST3(),
                new STABLE(),
                // a restarting host waits this long for the coordinator before it starts a cluster of its own
                // (merged in later); TLS handshakes on a loaded host can take a while
                new GMS().setJoinTimeout(5_000).printLocalAddress(false),
                new UFC(),
                new MFC(),
                new FRAG4());
        channel.name(config.nodeName());
        return channel;
    }
}
