package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.config.StatePaths;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.StringLength;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class CallerIdentityTest {

    @Property(tries = 300)
    void any_session_id_becomes_a_stable_valid_file_name(@ForAll @StringLength(min = 1, max = 400) String session) {
        String caller = CallerIdentity.fromEnvironment(Map.of(CallerIdentity.SESSION_ENV, session + "x"));
        assertThat(caller).matches(StatePaths.CALLER_ID);
        assertThat(CallerIdentity.fromEnvironment(Map.of(CallerIdentity.SESSION_ENV, session + "x"))).isEqualTo(caller);
    }

    @Property(tries = 50)
    void distinct_session_ids_that_sanitize_alike_stay_distinct(@ForAll("unsafe") String a) {
        String b = a.replace('/', ':');
        if (a.equals(b)) return;
        assertThat(CallerIdentity.fromEnvironment(Map.of(CallerIdentity.SESSION_ENV, a)))
                .isNotEqualTo(CallerIdentity.fromEnvironment(Map.of(CallerIdentity.SESSION_ENV, b)));
    }

    @net.jqwik.api.Provide
    net.jqwik.api.Arbitrary<String> unsafe() {
        return net.jqwik.api.Arbitraries.strings().withChars("ab/").ofMinLength(1).ofMaxLength(20).map(s -> "s" + s + "/");
    }

    @Property(tries = 5)
    void without_a_session_each_connection_is_its_own_caller(@ForAll boolean ignored) {
        String one = CallerIdentity.fromEnvironment(Map.of());
        assertThat(one).matches(StatePaths.CALLER_ID).startsWith("connection-").isNotEqualTo(CallerIdentity.fromEnvironment(Map.of()));
    }
}
