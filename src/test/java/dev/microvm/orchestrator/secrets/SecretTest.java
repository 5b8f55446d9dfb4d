package dev.microvm.orchestrator.secrets;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SecretTest {

    private static final String VALUE = "sk-ant-api03-canary-0123456789";

    @Test
    void toStringNeverShowsTheValue() {
        Secret s = Secret.of(VALUE);
        assertThat(s.toString()).isEqualTo("Secret[redacted]");
        assertThat("key=" + s).doesNotContain("canary");
        assertThat(String.format("%s|%10s", s, s)).doesNotContain("canary");
        assertThat(java.util.List.of(s).toString()).doesNotContain("canary");
    }

    @Test
    void revealReturnsTheTrimmedValue() {
        assertThat(Secret.of("  " + VALUE + "\n").reveal()).isEqualTo(VALUE);
    }

    @Test
    void emptyOrBlankValuesAreRejected() {
        assertThatThrownBy(() -> Secret.of("  \n")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Secret.of(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void equalityComparesValuesAndHashDoesNotDependOnThem() {
        assertThat(Secret.of(VALUE)).isEqualTo(Secret.of(VALUE));
        assertThat(Secret.of(VALUE)).isNotEqualTo(Secret.of(VALUE + "x"));
        assertThat(Secret.of("aaaaaaaa").hashCode()).isEqualTo(Secret.of("bbbbbbbb").hashCode());
    }

    @Test
    void matchesComparesAPresentedValue() {
        Secret s = Secret.of(VALUE);
        assertThat(s.matches(VALUE)).isTrue();
        assertThat(s.matches(VALUE.substring(0, 10))).isFalse();
        assertThat(s.matches("")).isFalse();
        assertThat(s.matches(null)).isFalse();
    }
}
