package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.util.AtomicFiles;
import dev.microvm.orchestrator.util.ProcessRunner;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Creates a cluster's certificate authority and one key and certificate per member with the JDK's
 * {@code keytool} (no extra library). Passwords are random, live in their own 0600 files and reach
 * keytool through its environment, never its command line.
 *
 * <p>Output, in a 0700 directory: {@code ca.p12} + {@code ca.password} (keep these offline; only
 * needed to add members), {@code ca.crt}, and per member {@code NAME.p12} + {@code NAME.password}.
 * A host needs {@code ca.crt} and its own two files.
 */
public final class ClusterCerts {

    private static final String PASSWORD_ENV = "MVO_KEYSTORE_PASSWORD";
    private static final String CA_PASSWORD_ENV = "MVO_CA_PASSWORD";
    private static final int VALIDITY_DAYS = 825;
    private static final Duration KEYTOOL_TIMEOUT = Duration.ofMinutes(2);

    private final Path keytool;

    public ClusterCerts(Path keytool) {
        this.keytool = keytool;
    }

    /** keytool next to the running JVM. */
    public static ClusterCerts forThisJvm() {
        return new ClusterCerts(Path.of(System.getProperty("java.home"), "bin", "keytool"));
    }

    /** Creates the CA if {@code dir} has none, then a key and certificate for every listed member that has none. */
    public List<Path> create(Path dir, String clusterName, List<String> members) throws IOException {
        ClusterConfig.requireName(clusterName, "cluster name");
        if (members.isEmpty()) throw new IllegalArgumentException("name at least one member (--member NAME)");
        members.forEach(m -> ClusterConfig.requireName(m, "member name"));
        AtomicFiles.privateDirectory(dir);
        List<Path> written = new ArrayList<>();
        Path ca = dir.resolve("ca.p12");
        Path caPassword = dir.resolve("ca.password");
        if (!Files.exists(ca)) {
            writePassword(caPassword);
            keytool(Map.of(CA_PASSWORD_ENV, password(caPassword)), "-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp384r1",
                    "-dname", "CN=" + clusterName + " cluster CA", "-ext", "bc:c", "-ext", "ku:c=keyCertSign,cRLSign",
                    "-validity", "3650", "-keystore", ca.toString(), "-storetype", "PKCS12", "-storepass:env", CA_PASSWORD_ENV);
            keytool(Map.of(CA_PASSWORD_ENV, password(caPassword)), "-exportcert", "-rfc", "-alias", "ca", "-keystore", ca.toString(),
                    "-storepass:env", CA_PASSWORD_ENV, "-file", dir.resolve("ca.crt").toString());
            AtomicFiles.setPermissions(ca, "rw-------");
            written.addAll(List.of(ca, caPassword, dir.resolve("ca.crt")));
        }
        for (String member : members) {
            Path store = dir.resolve(member + ".p12");
            if (Files.exists(store)) continue;
            Path pw = dir.resolve(member + ".password");
            writePassword(pw);
            Map<String, String> env = Map.of(PASSWORD_ENV, password(pw), CA_PASSWORD_ENV, password(caPassword));
            Path csr = dir.resolve(member + ".csr");
            Path crt = dir.resolve(member + ".crt");
            try {
                keytool(env, "-genkeypair", "-alias", "node", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + member,
                        "-validity", String.valueOf(VALIDITY_DAYS), "-keystore", store.toString(), "-storetype", "PKCS12", "-storepass:env", PASSWORD_ENV);
                keytool(env, "-certreq", "-alias", "node", "-keystore", store.toString(), "-storepass:env", PASSWORD_ENV, "-file", csr.toString());
                keytool(env, "-gencert", "-rfc", "-alias", "ca", "-keystore", ca.toString(), "-storepass:env", CA_PASSWORD_ENV,
                        "-infile", csr.toString(), "-outfile", crt.toString(), "-validity", String.valueOf(VALIDITY_DAYS),
                        "-ext", "ku:c=digitalSignature,keyAgreement", "-ext", "eku=serverAuth,clientAuth", "-ext", "san=dns:" + member);
                keytool(env, "-importcert", "-noprompt", "-alias", "ca", "-file", dir.resolve("ca.crt").toString(),
                        "-keystore", store.toString(), "-storepass:env", PASSWORD_ENV);
                keytool(env, "-importcert", "-noprompt", "-alias", "node", "-file", crt.toString(),
                        "-keystore", store.toString(), "-storepass:env", PASSWORD_ENV);
            } finally {
                Files.deleteIfExists(csr);
                Files.deleteIfExists(crt);
            }
            AtomicFiles.setPermissions(store, "rw-------");
            written.addAll(List.of(store, pw));
        }
        return written;
    }

    private static void writePassword(Path file) throws IOException {
        byte[] random = new byte[24];
        new SecureRandom().nextBytes(random);
        AtomicFiles.write(file, (HexFormat.of().formatHex(random) + "\n").getBytes(StandardCharsets.UTF_8), "rw-------");
    }

    private static String password(Path file) throws IOException {
        return new String(ClusterTls.readPassword(file));
    }

    private void keytool(Map<String, String> env, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(keytool.toString());
        cmd.addAll(List.of(args));
        ProcessRunner.Result r = ProcessRunner.of(cmd).environment(env).timeout(KEYTOOL_TIMEOUT).run();
        if (r.exitCode() != 0) throw new IOException("keytool " + args[0] + " failed: " + r.output().strip());
    }
}
