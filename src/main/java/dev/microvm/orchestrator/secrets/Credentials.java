package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.config.StatePaths;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Finds this host's Anthropic credential, first match wins:
 * <ol>
 *   <li>environment variable {@code ANTHROPIC_API_KEY} (an API key),</li>
 *   <li>environment variable {@code CLAUDE_CODE_OAUTH_TOKEN} (a subscription OAuth token),</li>
 *   <li>the token file {@code <state>/secrets/token} written by {@code microvm-orchestrator setup-token}.</li>
 * </ol>
 * The environment and the warning sink are injected so tests never depend on the real ones.
 */
public final class Credentials {

    public static final String ENV_API_KEY = "ANTHROPIC_API_KEY";
    public static final String ENV_OAUTH_TOKEN = "CLAUDE_CODE_OAUTH_TOKEN";
    public static final String TOKEN_FILE_NAME = "token";

    private static final Logger LOG = LoggerFactory.getLogger(Credentials.class);

    private final Map<String, String> env;
    private final StatePaths paths;
    private final Consumer<String> warnings;

    public Credentials(Map<String, String> env, StatePaths paths, Consumer<String> warnings) {
        this.env = env;
        this.paths = paths;
        this.warnings = warnings;
    }

    /** Reads the real process environment and logs warnings. */
    public static Credentials fromSystem(StatePaths paths) {
        return new Credentials(System.getenv(), paths, LOG::warn);
    }

    /** Where {@code setup-token} stores the token and where {@link #load()} looks for it. */
    public static Path tokenFile(StatePaths paths) {
        return paths.secretsDir().resolve(TOKEN_FILE_NAME);
    }

    public Credential load() throws CredentialsException {
        String apiKey = nonBlank(env.get(ENV_API_KEY));
        if (apiKey != null) {
            return register(new Credential(CredentialKind.API_KEY, Secret.of(apiKey), "environment variable " + ENV_API_KEY));
        }
        String oauth = nonBlank(env.get(ENV_OAUTH_TOKEN));
        if (oauth != null) {
            return register(new Credential(CredentialKind.OAUTH, Secret.of(oauth), "environment variable " + ENV_OAUTH_TOKEN));
        }
        Path file = tokenFile(paths);
        if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            try {
                Secret secret = SecretFiles.read(file, warnings);
                return register(new Credential(kindOf(secret), secret, "token file " + file));
            } catch (IOException e) {
                throw new CredentialsException("Cannot use the token file: " + e.getMessage(), e);
            }
        }
        throw new CredentialsException(missingMessage(file));
    }

    /** Tokens from the file are OAuth tokens unless they look like a console API key. */
    static CredentialKind kindOf(Secret secret) {
        return secret.reveal().startsWith("sk-ant-api") ? CredentialKind.API_KEY : CredentialKind.OAUTH;
    }

    static String missingMessage(Path file) {
        return "No Anthropic credential found. Provide one of:\n"
                + "  - run `microvm-orchestrator setup-token` (signs in with your Claude subscription and saves a token to "
                + file + "),\n"
                + "  - set " + ENV_OAUTH_TOKEN + " to a token from `claude setup-token`,\n"
                + "  - set " + ENV_API_KEY + " to an Anthropic API key.";
    }

    private static Credential register(Credential c) {
        Redactor.global().register(c.secret());
        return c;
    }

    private static String nonBlank(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
