#!/bin/sh
# In-guest task runner, shared by the production image (nixos-vm/flake.nix) and the test guest
# (scripts/build-guest.sh). POSIX sh + busybox/coreutils, git, util-linux setpriv.
#
# Reads the task from the io share, runs the agent in the workspace, records its output and exit
# code, hands the new commits back as a git bundle, writes io/out/done last and powers off.
#
# Inside a VM the shares and the slot disk are mounted by this script. The host-process driver
# (no VM) sets MVO_IO_DIR and MVO_WORKSPACE to host paths instead: then nothing is mounted and
# nothing is powered off.
#
# The mount tags, disk id and guest paths below are part of the guest contract; the Java side
# holds the same values in dev.microvm.orchestrator.vm.GuestContract.
set -u

MVO_TAG_WORKSPACE=mvo_ws
MVO_TAG_IO=mvo_io
MVO_TAG_OBJECTS=mvo_objects
MVO_DISK_SLOT=mvo_slot
MVO_GUEST_WORKSPACE=/workspace
MVO_GUEST_IO=/run/mvo/io
MVO_GUEST_OBJECTS=/run/mvo/objects
MVO_GUEST_SLOT=/run/mvo/slot

if [ -n "${MVO_IO_DIR:-}" ]; then
    in_vm=0
    io=$MVO_IO_DIR
    ws=${MVO_WORKSPACE:?MVO_WORKSPACE must be set with MVO_IO_DIR}
else
    in_vm=1
    io=$MVO_GUEST_IO
    ws=$MVO_GUEST_WORKSPACE
fi
out=$io/out

log() {
    line="mvo-runner: $*"
    echo "$line" >&2
    [ -d "$out" ] && echo "$line" >> "$out/runner.log"
    return 0
}

mount_share() { # tag dir [ro]
    mkdir -p "$2"
    opts=trans=virtio,version=9p2000.L,msize=262144
    [ "${3:-}" = ro ] && opts=$opts,ro
    mount -t 9p -o "$opts" "$1" "$2" 2>/dev/null && return 0
    vopts=rw; [ "${3:-}" = ro ] && vopts=ro
    mount -t virtiofs -o "$vopts" "$1" "$2" 2>/dev/null
}

# The slot disk is found by its serial (QEMU serial=, vfkit deviceId=), never by position.
find_slot_disk() {
    for b in /sys/block/vd*; do
        [ -e "$b/serial" ] || continue
        if [ "$(cat "$b/serial")" = "$MVO_DISK_SLOT" ]; then echo "/dev/${b##*/}"; return 0; fi
    done
    return 1
}

has_ext_filesystem() { # the ext2/3/4 superblock magic 0xEF53 sits at byte 1080
    [ "$(dd if="$1" bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')" = "53ef" ]
}

mount_slot() {
    dev=$(find_slot_disk) || { log "no slot disk; /var stays in memory"; return 0; }
    if ! has_ext_filesystem "$dev"; then
        log "formatting slot disk $dev (first use)"
        if command -v mkfs.ext4 >/dev/null 2>&1; then mkfs.ext4 -q -F "$dev"; else mke2fs -F -i 65536 "$dev" >/dev/null; fi || {
            log "cannot format $dev"; return 1; }
    fi
    mkdir -p "$MVO_GUEST_SLOT"
    mount -t ext4 "$dev" "$MVO_GUEST_SLOT" || { log "cannot mount $dev"; return 1; }
    mkdir -p "$MVO_GUEST_SLOT/var" "$MVO_GUEST_SLOT/cache"
    mount --bind "$MVO_GUEST_SLOT/var" /var
    mkdir -p /var/cache
    mount --bind "$MVO_GUEST_SLOT/cache" /var/cache
    export XDG_CACHE_HOME=/var/cache
}

finish() {
    sync
    if [ "$in_vm" = 1 ] && [ "${MVO_NO_POWEROFF:-0}" != 1 ]; then poweroff -f; fi
    exit "${1:-0}"
}

if [ "$in_vm" = 1 ]; then
    export PATH="${PATH:+$PATH:}/run/current-system/sw/bin:/usr/bin:/usr/sbin:/bin:/sbin" HOME="${HOME:-/root}"
    mount_share "$MVO_TAG_IO" "$MVO_GUEST_IO" || { echo "mvo-runner: cannot mount io share" >&2; finish 1; }
    mkdir -p "$out"
    mount_share "$MVO_TAG_WORKSPACE" "$MVO_GUEST_WORKSPACE" || { log "cannot mount workspace share"; finish 1; }
    mount_share "$MVO_TAG_OBJECTS" "$MVO_GUEST_OBJECTS" ro || log "no objects share"
    mount_slot
fi
mkdir -p "$out"
log "task runner started (in_vm=$in_vm)"

[ -f "$io/task.env" ] || { log "missing $io/task.env"; echo 127 > "$out/exit_code"; : > "$out/done"; finish 1; }
set -a
# shellcheck disable=SC1090
. "$io/task.env"
set +a
# Opt-in only (credential_mode file): the real credential arrives in a 0600 file that is read into
# the agent's environment and deleted at once; by default the agent only holds a proxy placeholder.
if [ -f "$io/credential.env" ]; then
    set -a
    # shellcheck disable=SC1091
    . "$io/credential.env"
    set +a
    rm -f "$io/credential.env"
    log "credential read from its file; the file is deleted"
fi

# api-only without a NIC (vfkit): the agent's ANTHROPIC_BASE_URL is this guest's loopback, and each
# connection to it is carried over vsock to the host (CID 2), where the hypervisor joins the port to
# the credential proxy's unix socket. The proxy still wants the task's placeholder on every request.
# MVO_API_RELAY_TARGET replaces the vsock end in the host's tests (its kernel has no vhost-vsock);
# the host never writes it into a task.
start_api_relay() {
    [ -n "${MVO_API_VSOCK_PORT:-}" ] || return 0
    relay_port=${MVO_API_RELAY_PORT:-80}
    relay_target=${MVO_API_RELAY_TARGET:-VSOCK-CONNECT:2:$MVO_API_VSOCK_PORT}
    command -v socat >/dev/null 2>&1 || { log "api-only over vsock needs socat in the guest image; the agent cannot reach the API"; return 1; }
    socat "TCP-LISTEN:$relay_port,bind=127.0.0.1,reuseaddr,fork" "$relay_target" &
    log "API relay: 127.0.0.1:$relay_port -> $relay_target"
}
start_api_relay

# The guest's git must accept a workspace owned by another uid and must not need a config file.
export GIT_CONFIG_COUNT=3 \
    GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*' \
    GIT_CONFIG_KEY_1=user.name GIT_CONFIG_VALUE_1="${MVO_GIT_NAME:-microvm task}" \
    GIT_CONFIG_KEY_2=user.email GIT_CONFIG_VALUE_2="${MVO_GIT_EMAIL:-task@microvm.invalid}"

agent_pid=
on_term() {
    log "asked to stop; ending the agent"
    [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null
}
trap on_term TERM INT

cd "$ws" || { log "cannot enter workspace $ws"; echo 127 > "$out/exit_code"; : > "$out/done"; finish 1; }

# The agent never runs as root: it runs as the image's agent user (/etc/mvo/agent-user, uid 1000 in
# every image), which owns the workspace (the host stamps its ownership into the share), its HOME,
# /tmp and the slot caches. Root only mounts and powers off. A test image may boot with
# mvo.test.agent_as_root=1 to play a compromised guest.
agent_fail() { # reason text: the host reports out/agent_error as the task's error
    log "$1"
    printf '%s\n' "$1" > "$out/agent_error"
    echo 127 > "$out/exit_code"
    : > "$out/done"
    finish 0
}
agent_uid=
run_as_agent() { # in the foreground
    if [ -n "$agent_uid" ]; then "$setpriv" --reuid="$agent_uid" --regid="$agent_gid" --clear-groups --no-new-privs "$@"; else "$@"; fi
}
start_agent() { # in the background: exec, so that $! is the agent itself and a TERM reaches it
    if [ -n "$agent_uid" ]; then exec "$setpriv" --reuid="$agent_uid" --regid="$agent_gid" --clear-groups --no-new-privs "$@"; else exec "$@"; fi
}
if [ "$in_vm" = 1 ]; then
    if grep -q 'mvo.test.agent_as_root=1' /proc/cmdline 2>/dev/null; then
        log "TEST IMAGE: the agent runs as root (mvo.test.agent_as_root=1)"
    else
        agent_user=$(cat /etc/mvo/agent-user 2>/dev/null || true)
        [ -n "$agent_user" ] || agent_fail "the guest image names no agent user (/etc/mvo/agent-user); the agent never runs as root"
        entry=$(awk -F: -v u="$agent_user" '$1 == u {print $3 ":" $4 ":" $6; exit}' /etc/passwd)
        [ -n "$entry" ] || agent_fail "the agent user '$agent_user' does not exist in the guest image"
        agent_uid=${entry%%:*}; rest=${entry#*:}; agent_gid=${rest%%:*}; agent_home=${rest#*:}
        [ "$agent_uid" != 0 ] || agent_fail "the agent user '$agent_user' is root; the agent never runs as root"
        # util-linux setpriv, by its path: a busybox shell may prefer its own applet of that name
        setpriv=
        for d in $(echo "$PATH" | tr ':' ' '); do
            if [ -x "$d/setpriv" ] && "$d/setpriv" --help 2>&1 | grep -q -- --reuid; then setpriv=$d/setpriv; break; fi
        done
        [ -n "$setpriv" ] || agent_fail "setpriv (util-linux) is missing from the guest image; it is needed to run the agent as '$agent_user'"
        mkdir -p "$agent_home" /tmp
        chown "$agent_uid:$agent_gid" "$agent_home"
        chmod 1777 /tmp
        [ -d /var/cache ] && chown "$agent_uid:$agent_gid" /var/cache
        export HOME="$agent_home" USER="$agent_user" LOGNAME="$agent_user" SHELL=/bin/bash TMPDIR=/tmp
        log "the agent runs as $agent_user (uid $agent_uid)"
        # A virtio-fs workspace has no ownership mapping (vfkit): Virtualization.framework shows
        # every file as the caller's, so the agent can write it; Linux's virtiofsd (the vfkit
        # simulator) shows the host's owners. A workspace the agent cannot write is handed to it.
        if ! run_as_agent sh -c 'test -w "$1"' - "$ws"; then
            log "the workspace is not writable by $agent_user: giving it to uid $agent_uid"
            chown -R "$agent_uid:$agent_gid" "$ws" || agent_fail "cannot give the workspace to $agent_user"
        fi
    fi
fi

if [ -n "${MVO_AGENT_CMD:-}" ]; then
    log "running agent command"
    start_agent sh -c "$MVO_AGENT_CMD" > "$out/agent.log" 2>&1 < /dev/null &
else
    command -v claude >/dev/null 2>&1 \
        || agent_fail "agent \`claude\` not found in guest image${MVO_IMAGE_VERSION:+ $MVO_IMAGE_VERSION} (PATH=$PATH)"
    log "running Claude Code headless"
    start_agent claude -p "$(cat "$io/prompt.txt")" --output-format stream-json --verbose \
        --dangerously-skip-permissions > "$out/agent.log" 2>&1 < /dev/null &
fi
agent_pid=$!
# Mirror the agent's output on stderr (the console): the host follows the console live and parses
# the agent's stream-json progress from it. The host itself never reads the guest's files early.
# Copied by byte offset rather than with tail -f, so that once the agent has ended one last copy
# takes everything it wrote, however slowly this guest runs. Sizes come from stat and copies from
# dd with byte offsets, so a huge (or sparse) log costs nothing to measure or to skip: a jump of
# more than 1 MiB is skipped down to its last 64 KiB (agent.log itself keeps everything).
ended_mark="$out/.agent-ended"
rm -f "$ended_mark"
log_size() {
    stat -c %s "$out/agent.log" 2>/dev/null || wc -c < "$out/agent.log" 2>/dev/null || echo 0
}
runner_pid=$$
mirror_agent_log() {
    copied=0
    while :; do
        kill -0 "$runner_pid" 2>/dev/null || return 0   # the runner itself was killed
        ended=0
        [ -e "$ended_mark" ] && ended=1
        size=$(log_size)
        if [ "$size" -gt "$copied" ]; then
            if [ $((size - copied)) -gt 1048576 ]; then
                echo "mvo-runner: $((size - copied - 65536)) bytes of agent output not shown here (agent.log has them)" >&2
                copied=$((size - 65536))
            fi
            # stdout onto the console first, then silence dd's own statistics
            dd if="$out/agent.log" bs=65536 skip="$copied" count="$((size - copied))" iflag=skip_bytes,count_bytes >&2 2>/dev/null
            copied=$size
        fi
        [ "$ended" = 1 ] && return 0
        sleep 0.2 2>/dev/null || sleep 1
    done
}
mirror_agent_log &
follow_pid=$!
status=0
wait "$agent_pid" || status=$?
# A trapped signal interrupts wait; collect the real exit status.
while kill -0 "$agent_pid" 2>/dev/null; do wait "$agent_pid"; status=$?; done
agent_pid=
: > "$ended_mark"
# (a trapped signal interrupts wait here too)
while kill -0 "$follow_pid" 2>/dev/null; do wait "$follow_pid" 2>/dev/null; done
rm -f "$ended_mark"
log "agent exited with $status"
echo "$status" > "$out/exit_code"

rm -f "$out/result.bundle"
# git runs as the agent here too: the repository (hooks, config) is the agent's, never root's.
if [ -n "${MVO_BASE_COMMIT:-}" ]; then
    count=$(run_as_agent git rev-list --count "$MVO_BASE_COMMIT..HEAD" 2>>"$out/runner.log" || echo 0)
    if [ "$count" -gt 0 ]; then
        if run_as_agent git bundle create - "$MVO_BASE_COMMIT..HEAD" > "$out/result.bundle" 2>>"$out/runner.log"; then
            log "bundled $count commit(s)"
        else
            rm -f "$out/result.bundle"
            log "git bundle failed"
        fi
    else
        log "no new commits"
    fi
fi
: > "$out/done"
log "done"
finish 0
