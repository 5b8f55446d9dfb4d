package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.cluster.ClusterCerts;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * Creates a cluster's CA and the members' keys and certificates (see {@link ClusterCerts}).
 * Run again with more {@code --member}s to add members signed by the same CA.
 */
@Command(name = "cluster-certs", description = "Create the cluster's certificate authority and a key + certificate per member.")
final class ClusterCertsCommand implements Callable<Integer> {

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory for the CA and member files (created 0700).")
    Path out;

    @Option(names = "--cluster", required = true, paramLabel = "NAME", description = "Cluster name (as in cluster.json).")
    String cluster;

    @Option(names = "--member", required = true, paramLabel = "NAME", description = "Member name (as node_name in its cluster.json); repeat per host.")
    List<String> members;

    @Override
    public Integer call() throws Exception {
        List<Path> written = ClusterCerts.forThisJvm().create(out, cluster, members);
        for (Path p : written) System.out.println("wrote " + p);
        System.out.println("Copy ca.crt, NAME.p12 and NAME.password to each member's certs_dir; keep ca.p12 and ca.password offline.");
        return 0;
    }
}
