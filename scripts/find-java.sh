#!/bin/sh
# Prints the home of a Java runtime of version 21 or newer, or explains what to install and fails.
# Order: $JAVA_HOME, then the usual install locations on Linux and macOS, then java on PATH.
java_major() {
    "$1/bin/java" -XshowSettings:properties -version 2>&1 | awk -F= '/java.specification.version/ {gsub(/ /, "", $2); print $2; exit}'
}
ok() {
    [ -x "$1/bin/java" ] || return 1
    v=$(java_major "$1")
    [ -n "$v" ] && [ "${v%%.*}" -ge 21 ] 2>/dev/null
}
candidates() {
    [ -n "${JAVA_HOME:-}" ] && echo "$JAVA_HOME"
    for d in /usr/lib/jvm/temurin-25-jdk-* /usr/lib/jvm/temurin-2[1-9]-j* /usr/lib/jvm/java-2[1-9]-openjdk-* \
             /usr/lib/jvm/*-2[1-9]* /opt/homebrew/opt/openjdk*/libexec/openjdk.jdk/Contents/Home \
             /usr/local/opt/openjdk*/libexec/openjdk.jdk/Contents/Home /Library/Java/JavaVirtualMachines/*/Contents/Home; do
        [ -d "$d" ] && echo "$d"
    done
    if [ -x /usr/libexec/java_home ]; then /usr/libexec/java_home -v 21+ 2>/dev/null; fi
    j=$(command -v java 2>/dev/null) && [ -n "$j" ] && dirname "$(dirname "$(readlink -f "$j" 2>/dev/null || echo "$j")")"
}
for c in $(candidates); do
    if ok "$c"; then echo "$c"; exit 0; fi
done
echo "microvm-orchestrator needs Java 21 or newer and found none." >&2
echo "Install one (Debian: apt-get install openjdk-21-jre or Temurin 21+; macOS: brew install openjdk@21) or set JAVA_HOME." >&2
exit 1
