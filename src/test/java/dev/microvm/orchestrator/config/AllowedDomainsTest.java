package dev.microvm.orchestrator.config;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AllowedDomainsTest {

    private final AllowedDomains list = AllowedDomains.of(List.of("Registry.NPMJS.org.", "*.pythonhosted.org"), "test");

    @Test
    void exactNamesMatchOnlyThemselvesCaseAndTrailingDotAside() {
        assertThat(list.allows("registry.npmjs.org")).isTrue();
        assertThat(list.allows("REGISTRY.npmjs.org.")).isTrue();
        assertThat(list.allows("evil.registry.npmjs.org")).isFalse();
        assertThat(list.allows("registry.npmjs.org.evil.com")).isFalse();
        assertThat(list.allows("npmjs.org")).isFalse();
    }

    @Test
    void suffixPatternsMatchSubdomainsButNotTheBareDomainOrLookalikes() {
        assertThat(list.allows("files.pythonhosted.org")).isTrue();
        assertThat(list.allows("a.b.pythonhosted.org")).isTrue();
        assertThat(list.allows("pythonhosted.org")).isFalse();
        assertThat(list.allows("evilpythonhosted.org")).isFalse();
    }

    @Test
    void addressesAndEmptyNamesNeverMatch() {
        AllowedDomains wide = AllowedDomains.of(List.of("*.example.org", "example.org"), "test");
        assertThat(wide.allows("1.2.3.4")).isFalse();
        assertThat(wide.allows("[::1]")).isFalse();
        assertThat(wide.allows("")).isFalse();
        assertThat(wide.allows(null)).isFalse();
    }

    @Test
    void badEntriesAreRefusedWithAnActionableMessage() {
        for (String bad : List.of("", "com", "*.org", "*.", "*.com*", "a..b", "-a.com", "exa mple.com", "http://example.com", "*.*.com")) {
            assertThatThrownBy(() -> AllowedDomains.of(List.of(bad), "allowed_domains"))
                    .as(bad).hasMessageContaining("allowed_domains").hasMessageContaining("registry.npmjs.org");
        }
        assertThatThrownBy(() -> AllowedDomains.of(List.of("192.168.1.1"), "allowed_domains")).hasMessageContaining("is an IP address");
    }

    @Test
    void listsJoinWithoutDuplicates() {
        AllowedDomains joined = list.union(AllowedDomains.of(List.of("registry.npmjs.org", "github.com"), "t"));
        assertThat(joined.patterns()).containsExactly("*.pythonhosted.org", "github.com", "registry.npmjs.org");
    }
}
