package dev.microvm.orchestrator.config;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The domains a task under network {@code allowlist} may reach through the egress proxy: exact
 * names ({@code registry.npmjs.org}) or {@code *.} suffixes ({@code *.pythonhosted.org}, which
 * matches {@code files.pythonhosted.org} but not {@code pythonhosted.org} itself). Names are
 * compared lower-case, without a trailing dot. IP addresses are not domains and never match.
 */
public final class AllowedDomains {
    private static final Pattern LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    private final List<String> patterns;

    private AllowedDomains(List<String> patterns) {
        this.patterns = List.copyOf(patterns);
    }

    /** Validates and normalizes {@code raw}; {@code what} names the setting in error messages. */
    public static AllowedDomains of(Collection<String> raw, String what) {
        TreeSet<String> out = new TreeSet<>();
        for (String r : raw) out.add(normalize(r, what));
        return new AllowedDomains(new ArrayList<>(out));
    }

    public static AllowedDomains none() {
        return new AllowedDomains(List.of());
    }

    /** The union of several lists (config defaults, the repository's, the task's). */
    public AllowedDomains union(AllowedDomains other) {
        TreeSet<String> all = new TreeSet<>(patterns);
        all.addAll(other.patterns);
        return new AllowedDomains(new ArrayList<>(all));
    }

    public List<String> patterns() {
        return patterns;
    }

    /** True when {@code host} (a name as a client sent it) is allowed. */
    public boolean allows(String host) {
        if (host == null) return false;
        String h = host.toLowerCase(Locale.ROOT);
        if (h.endsWith(".")) h = h.substring(0, h.length() - 1);
        if (h.isEmpty() || IPV4.matcher(h).matches() || h.contains(":")) return false;
        for (String p : patterns) {
            if (p.startsWith("*.")) {
                if (h.endsWith(p.substring(1)) && h.length() > p.length() - 1) return true;
            } else if (h.equals(p)) {
                return true;
            }
        }
        return false;
    }

    static String normalize(String raw, String what) {
        if (raw == null) throw new IllegalArgumentException(what + ": a domain must not be null");
        String d = raw.strip().toLowerCase(Locale.ROOT);
        if (d.endsWith(".")) d = d.substring(0, d.length() - 1);
        String name = d.startsWith("*.") ? d.substring(2) : d;
        if (name.length() > 253 || name.isEmpty()) throw invalid(raw, what);
        if (IPV4.matcher(name).matches()) {
            throw new IllegalArgumentException(what + ": '" + raw + "' is an IP address; the allowlist holds domain names only");
        }
        String[] labels = name.split("\\.", -1);
        if (labels.length < 2) throw invalid(raw, what);
        for (String l : labels) if (!LABEL.matcher(l).matches()) throw invalid(raw, what);
        return d;
    }

    private static IllegalArgumentException invalid(String raw, String what) {
        return new IllegalArgumentException(what + ": '" + raw + "' is not a domain name; use an exact name like registry.npmjs.org "
                + "or a suffix like *.pythonhosted.org");
    }

    @Override
    public String toString() {
        return patterns.toString();
    }
}
