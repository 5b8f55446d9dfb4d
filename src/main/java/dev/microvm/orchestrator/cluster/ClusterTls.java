package dev.microvm.orchestrator.cluster;

import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509KeyManager;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Set;

/**
 * The key material of one member: its key and certificate (PKCS#12, password in its own 0600
 * file) and the cluster CA as the only trust anchor. A peer is accepted only if its certificate
 * chains to that CA <em>and</em> names (CN) one of the configured members, in both directions
 * of every connection: membership traffic and event bus alike.
 */
public final class ClusterTls {

    private final X509KeyManager keyManager;
    private final X509ExtendedTrustManager trustManager;
    private final SSLContext context;

    private ClusterTls(X509KeyManager keyManager, X509ExtendedTrustManager trustManager) throws GeneralSecurityException {
        this.keyManager = keyManager;
        this.trustManager = trustManager;
        this.context = SSLContext.getInstance("TLSv1.3");
        this.context.init(new javax.net.ssl.KeyManager[]{keyManager}, new javax.net.ssl.TrustManager[]{trustManager}, null);
    }

    public static ClusterTls load(ClusterConfig config) throws IOException {
        try {
            char[] password = readPassword(config.keyStorePassword());
            KeyStore keys = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(requireFile(config.keyStore()))) {
                keys.load(in, password);
            }
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, password);
            Arrays.fill(password, '\0');
            X509KeyManager km = (X509KeyManager) kmf.getKeyManagers()[0];

            KeyStore anchors = KeyStore.getInstance("PKCS12");
            anchors.load(null, null);
            try (InputStream in = Files.newInputStream(requireFile(config.caCertificate()))) {
                anchors.setCertificateEntry("cluster-ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(anchors);
            X509ExtendedTrustManager ca = (X509ExtendedTrustManager) tmf.getTrustManagers()[0];
            return new ClusterTls(km, new MembersOnly(ca, Set.copyOf(config.memberNames())));
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot load the cluster certificates from " + config.certsDir() + ": " + e.getMessage(), e);
        }
    }

    public SSLContext context() { return context; }
    public X509KeyManager keyManager() { return keyManager; }
    public X509ExtendedTrustManager trustManager() { return trustManager; }

    private static Path requireFile(Path p) throws IOException {
        if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(p + " is missing; create the cluster's certificates with `microvm-orchestrator cluster-certs`");
        }
        return p;
    }

    static char[] readPassword(Path file) throws IOException {
        return Files.readString(requireFile(file), StandardCharsets.UTF_8).strip().toCharArray();
    }

    /** The CN of a certificate's subject, or null. */
    static String commonName(X509Certificate cert) {
        try {
            for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) return String.valueOf(rdn.getValue());
            }
        } catch (InvalidNameException e) {
            return null;
        }
        return null;
    }

    /** CA-anchored validation plus: the peer's CN is a configured member. */
    static final class MembersOnly extends X509ExtendedTrustManager {
        private final X509ExtendedTrustManager ca;
        private final Set<String> members;

        MembersOnly(X509ExtendedTrustManager ca, Set<String> members) {
            this.ca = ca;
            this.members = members;
        }

        private void member(X509Certificate[] chain) throws CertificateException {
            String cn = chain == null || chain.length == 0 ? null : commonName(chain[0]);
            if (cn == null || !members.contains(cn)) {
                throw new CertificateException("peer '" + cn + "' is not a configured member of this cluster");
            }
        }

        @Override public void checkClientTrusted(X509Certificate[] chain, String authType, Socket s) throws CertificateException { ca.checkClientTrusted(chain, authType, s); member(chain); }
        @Override public void checkServerTrusted(X509Certificate[] chain, String authType, Socket s) throws CertificateException { ca.checkServerTrusted(chain, authType, s); member(chain); }
        @Override public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine e) throws CertificateException { ca.checkClientTrusted(chain, authType, e); member(chain); }
        @Override public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine e) throws CertificateException { ca.checkServerTrusted(chain, authType, e); member(chain); }
        @Override public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException { ca.checkClientTrusted(chain, authType); member(chain); }
        @Override public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException { ca.checkServerTrusted(chain, authType); member(chain); }

        @Override public X509Certificate[] getAcceptedIssuers() {
            return ca.getAcceptedIssuers();
        }
    }
}
