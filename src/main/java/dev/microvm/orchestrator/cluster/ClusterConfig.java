package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.util.JsonSchema;
import dev.microvm.orchestrator.util.JsonSchemas;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How this host joins its cluster ({@code cluster.json} in the state directory, or the file given
 * to {@code serve --cluster}). There is no discovery: the member list is the cluster, and every
 * member proves its name with a certificate from the cluster's CA (see {@link ClusterCerts}).
 *
 * <pre>
 * {
 *   "cluster_name": "lab",
 *   "node_name": "host-a",                         // must equal the CN of this node's certificate
 *   "bind_host": "192.168.1.10",                   // address other members reach; never a wildcard
 *   "membership_port": 7800,                       // JGroups (membership, cluster state), mutual TLS
 *   "event_bus_port": 7900,                        // Vert.x clustered event bus, mutual TLS
 *   "members": ["host-a@192.168.1.10:7800", "host-b@192.168.1.11:7800"],
 *   "certs_dir": "/etc/microvm-orchestrator/certs" // host-a.p12, host-a.password, ca.crt
 * }
 * </pre>
 */
public record ClusterConfig(String clusterName, String nodeName, String bindHost, int membershipPort, int eventBusPort,
                            List<Member> members, Path certsDir, long suspectAfterMs) {

    /** Default for {@code suspect_after_ms}: a member missing heartbeats this long is suspected, then verified for 1 s. */
    public static final long DEFAULT_SUSPECT_AFTER_MS = 3_000;

    public ClusterConfig(String clusterName, String nodeName, String bindHost, int membershipPort, int eventBusPort,
                         List<Member> members, Path certsDir) {
        this(clusterName, nodeName, bindHost, membershipPort, eventBusPort, members, certsDir, DEFAULT_SUSPECT_AFTER_MS);
    }

    /** What {@code cluster.json} may hold: {@code schemas/cluster.schema.json}. */
    private static final JsonSchema SCHEMA = JsonSchemas.load("cluster.schema.json", "field");

    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9.-]{0,62}");
    private static final Pattern MEMBER = Pattern.compile("([a-z0-9][a-z0-9.-]{0,62})@([^@:\\s]+|\\[[0-9a-fA-F:]+]):(\\d{1,5})");

    /** A configured member: its certificate name and membership address. */
    public record Member(String name, String host, int port) {
        @Override
        public String toString() {
            return name + "@" + host + ":" + port;
        }
    }

    public ClusterConfig {
        requireName(clusterName, "cluster_name");
        requireName(nodeName, "node_name");
        if (bindHost == null || bindHost.isBlank() || bindHost.equals("0.0.0.0") || bindHost.equals("::")) {
            throw new IllegalArgumentException("bind_host must be this host's address on the cluster network (not a wildcard), e.g. 192.168.1.10");
        }
        port(membershipPort, "membership_port");
        port(eventBusPort, "event_bus_port");
        if (membershipPort == eventBusPort) throw new IllegalArgumentException("membership_port and event_bus_port must differ");
        members = List.copyOf(members);
        if (members.stream().noneMatch(m -> m.name().equals(nodeName))) {
            throw new IllegalArgumentException("members must include this node (" + nodeName + "@" + bindHost + ":" + membershipPort + ")");
        }
        if (members.stream().map(Member::name).distinct().count() != members.size()) {
            throw new IllegalArgumentException("members lists a node name twice");
        }
        if (certsDir == null) throw new IllegalArgumentException("certs_dir is required: create it with `microvm-orchestrator cluster-certs`");
        if (suspectAfterMs < 2_000 || suspectAfterMs > 120_000) {
            throw new IllegalArgumentException("suspect_after_ms must be between 2000 and 120000 (how long a silent member may stay before its tasks are node_lost), got " + suspectAfterMs);
        }
    }

    public static ClusterConfig load(Path file) throws IOException {
        try {
            return fromJson(new JsonObject(Files.readString(file)), file.toAbsolutePath().getParent());
        } catch (IllegalArgumentException | ClassCastException e) {
            throw new IllegalArgumentException("cluster configuration " + file + ": " + e.getMessage(), e);
        }
    }

    /** Relative {@code certs_dir} values are resolved against {@code base}. */
    public static ClusterConfig fromJson(JsonObject j, Path base) {
        SCHEMA.check(j, "cluster.json"); // keys, types, names, ports, ranges; the rules across fields follow
        JsonArray list = j.getJsonArray("members");
        List<Member> members = new ArrayList<>();
        for (Object o : list) members.add(parseMember(String.valueOf(o)));
        String certs = j.getString("certs_dir");
        return new ClusterConfig(j.getString("cluster_name"), j.getString("node_name"), j.getString("bind_host"),
                j.getInteger("membership_port", 7800), j.getInteger("event_bus_port", 7900), members,
                certs == null ? null : base.resolve(certs).normalize(), j.getLong("suspect_after_ms", DEFAULT_SUSPECT_AFTER_MS));
    }

    public static Member parseMember(String s) {
        Matcher m = MEMBER.matcher(s.strip());
        if (!m.matches()) throw new IllegalArgumentException("member '" + s + "' must look like name@host:port");
        int port = Integer.parseInt(m.group(3));
        port(port, "member port");
        return new Member(m.group(1), m.group(2), port);
    }

    public List<String> memberNames() {
        return members.stream().map(Member::name).toList();
    }

    public Path keyStore() {
        return certsDir.resolve(nodeName + ".p12");
    }

    public Path keyStorePassword() {
        return certsDir.resolve(nodeName + ".password");
    }

    public Path caCertificate() {
        return certsDir.resolve("ca.crt");
    }

    static void requireName(String value, String field) {
        if (value == null || !NAME.matcher(value).matches()) {
            throw new IllegalArgumentException(field + " must match " + NAME.pattern() + ", got " + (value == null ? "nothing" : "'" + value + "'"));
        }
    }

    private static void port(int p, String field) {
        if (p < 1 || p > 65535) throw new IllegalArgumentException(field + " must be between 1 and 65535, got " + p);
    }
}
