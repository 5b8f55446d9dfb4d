package dev.microvm.orchestrator.secrets;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The explicit, opt-in way to give the agent the real credential (config
 * {@code "credential_mode": "file"}): a 0600 file in the task's io share, which the in-guest runner
 * reads into the agent's environment and deletes before the agent starts. Never argv, never the
 * kernel command line, never the console. The default is the proxy, where the guest never holds it.
 */
public final class GuestCredentialFile {

    /** Name inside the io directory; the runner knows it too. */
    public static final String FILE = "credential.env";

    private GuestCredentialFile() {}

    public static void write(Path ioDir, Credential credential) throws IOException {
        String variable = credential.kind() == CredentialKind.API_KEY ? Credentials.ENV_API_KEY : Credentials.ENV_OAUTH_TOKEN;
        String quoted = "'" + credential.secret().reveal().replace("'", "'\\''") + "'";
        SecretFiles.writeAtomically(ioDir.resolve(FILE), Secret.of(variable + "=" + quoted));
    }
}
