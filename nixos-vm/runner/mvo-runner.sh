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
MVO_DISK_CACHE=mvo_cache
MVO_GUEST_WORKSPACE=/workspace
MVO_GUEST_IO=/run/mvo/io
MVO_GUEST_OBJECTS=/run/mvo/objects
MVO_GUEST_CACHE=/run/mvo/cache

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

# Disks are found by their serial (QEMU serial=, vfkit deviceId=), never by position.
find_disk() { # serial
    for b in /sys/block/vd*; do
        [ -e "$b/serial" ] || continue
        if [ "$(cat "$b/serial")" = "$1" ]; then echo "/dev/${b##*/}"; return 0; fi
    done
    return 1
}

has_ext_filesystem() { # the ext2/3/4 superblock magic 0xEF53 sits at byte 1080
    [ "$(dd if="$1" bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')" = "53ef" ]
}

format_on_first_use() { # dev what
    has_ext_filesystem "$1" && return 0
    log "formatting $2 $1 (first use)"
    if command -v mkfs.ext4 >/dev/null 2>&1; then mkfs.ext4 -q -F "$1"; else mke2fs -F -i 65536 "$1" >/dev/null; fi || {
        log "cannot format $1"; return 1; }
}

# The slot disk is /var itself, mounted before anything populates /var: by init (the Debian
# images call "mvo-runner.sh mount-slot" first thing; the production image mounts it from its
# fileSystems), so the runner only mounts it when nothing did.
mount_slot() {
    dev=$(find_disk "$MVO_DISK_SLOT") || { log "no slot disk; /var stays in memory"; return 0; }
    if awk -v d="$dev" '$1 == d && $2 == "/var" {f=1} END {exit !f}' /proc/mounts 2>/dev/null; then return 0; fi
    format_on_first_use "$dev" "slot disk" || return 1
    mount -t ext4 "$dev" /var || { log "cannot mount $dev on /var"; return 1; }
}

# The cache disk holds this repository's caches on this slot (the host attaches only the current
# repository's image). Root mounts it; everything inside is the agent's, copied in and out by the
# agent user only, so nothing a cache holds (links included) is ever followed by root.
cache_dev=
mount_cache() {
    cache_dev=$(find_disk "$MVO_DISK_CACHE") || { cache_dev=; return 0; }
    format_on_first_use "$cache_dev" "cache disk" || { cache_dev=; return 0; }
    mkdir -p "$MVO_GUEST_CACHE"
    mount -t ext4 -o nosuid,nodev "$cache_dev" "$MVO_GUEST_CACHE" || { log "cannot mount the cache disk $cache_dev"; cache_dev=; }
}

finish() {
    sync
    if [ "$in_vm" = 1 ] && [ "${MVO_NO_POWEROFF:-0}" != 1 ]; then poweroff -f; fi
    exit "${1:-0}"
}

if [ "${1:-}" = mount-slot ]; then # called by init before the system uses /var
    mount_slot
    exit $?
fi

if [ "$in_vm" = 1 ]; then
    export PATH="${PATH:+$PATH:}/run/current-system/sw/bin:/usr/bin:/usr/sbin:/bin:/sbin" HOME="${HOME:-/root}"
    mount_share "$MVO_TAG_IO" "$MVO_GUEST_IO" || { echo "mvo-runner: cannot mount io share" >&2; finish 1; }
    mkdir -p "$out"
    mount_share "$MVO_TAG_WORKSPACE" "$MVO_GUEST_WORKSPACE" || { log "cannot mount workspace share"; finish 1; }
    mount_share "$MVO_TAG_OBJECTS" "$MVO_GUEST_OBJECTS" ro || log "no objects share"
    mount_slot
    mount_cache
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

# Granted secrets for setup (.microvm/environment.json "secrets"): root-only 0600 files, read into
# this root shell's memory (not its environment) and unlinked before anything runs as the agent user.
take_root_file() {
    [ -f "$io/$1" ] || return 0
    cat "$io/$1"
    rm -f "$io/$1"
}
setup_secrets=$(take_root_file secrets.env)
agent_secrets=$(take_root_file agent-secrets.env)
[ -n "$setup_secrets" ] && log "setup secrets read from their file; the file is deleted"

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
# /tmp and what the cache disk keeps. Nothing on the slot disk (/var, shared by every repository
# that uses the slot) is the agent's. Root only mounts and powers off. A test image may boot with
# mvo.test.agent_as_root=1 to play a compromised guest.
agent_fail() { # reason text: the host reports out/agent_error as the task's error
    log "$1"
    printf '%s\n' "$1" > "$out/agent_error"
    echo 127 > "$out/exit_code"
    : > "$out/done"
    finish 0
}
agent_uid=
# no_new_privs: nothing the agent runs gains privileges through setuid files. An image with rootless
# containers (/etc/mvo/rootless-containers, the NixOS image) needs its setuid newuidmap/newgidmap to
# map the agent's subordinate ids, so there the agent runs without it (still as itself, no groups).
no_new_privs=--no-new-privs
[ -f /etc/mvo/rootless-containers ] && no_new_privs=--clear-groups
run_as_agent() { # in the foreground
    if [ -n "$agent_uid" ]; then "$setpriv" --reuid="$agent_uid" --regid="$agent_gid" --clear-groups "$no_new_privs" "$@"; else "$@"; fi
}
start_agent() { # in the background: exec, so that $! is the agent itself and a TERM reaches it
    if [ -n "$agent_uid" ]; then exec "$setpriv" --reuid="$agent_uid" --regid="$agent_gid" --clear-groups "$no_new_privs" "$@"; else exec "$@"; fi
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
        export HOME="$agent_home" USER="$agent_user" LOGNAME="$agent_user" SHELL=/bin/bash TMPDIR=/tmp
        # the agent's runtime directory where the image makes one (rootless podman keeps its state there)
        [ -d "/run/user/$agent_uid" ] && export XDG_RUNTIME_DIR="/run/user/$agent_uid"
        log "the agent runs as $agent_user (uid $agent_uid)"
        [ "$no_new_privs" = --no-new-privs ] || log "the agent may run the image's setuid id mappers (rootless containers)"
        # A virtio-fs workspace has no ownership mapping (vfkit): Virtualization.framework shows
        # every file as the caller's, so the agent can write it; Linux's virtiofsd (the vfkit
        # simulator) shows the host's owners. A workspace the agent cannot write is handed to it.
        if ! run_as_agent sh -c 'test -w "$1"' - "$ws"; then
            log "the workspace is not writable by $agent_user: giving it to uid $agent_uid"
            chown -R "$agent_uid:$agent_gid" "$ws" || agent_fail "cannot give the workspace to $agent_user"
        fi
    fi
fi

# --- warm slot: caches and setup ------------------------------------------------------------
# MVO_CACHE_PATHS (one path a line): "~/x" is $HOME/x, kept on the cache disk under home/x; "x" is
# $ws/x, kept under ws/x. They are restored before setup and the agent, and saved after setup and
# after the agent, always by the agent user.
cache_dir() { # the cache disk's directory for one kind (home|ws), made the agent's
    d="$MVO_GUEST_CACHE/$1"
    [ -L "$d" ] && rm -f "$d"
    # -h: a link swapped in by a process the agent left behind is changed itself, never followed
    mkdir -p "$d" && [ -n "$agent_uid" ] && chown -h "$agent_uid:$agent_gid" "$d"
    echo "$d"
}
# as the agent: copy $1 to $2 through $2.mvo-new, so that a copy cut short never replaces a good one
cache_copy_script='set -e; rm -rf "$2.mvo-new"; mkdir -p "$(dirname "$2")"; cp -a "$1" "$2.mvo-new"; rm -rf "$2"; mv "$2.mvo-new" "$2"'
cache_sync() { # restore|save when
    [ -n "${MVO_CACHE_PATHS:-}" ] || return 0
    [ -n "$cache_dev" ] || { log "no cache disk attached: caches are not kept"; return 0; }
    printf '%s\n' "$MVO_CACHE_PATHS" | while IFS= read -r p; do
        [ -n "$p" ] || continue
        case "$p" in
            "~/"*) rel=${p#"~/"}; live="$HOME/$rel"; kept="$(cache_dir home)/$rel" ;;
            *) rel=$p; live="$ws/$rel"; kept="$(cache_dir ws)/$rel" ;;
        esac
        case "/$rel/" in */../*|*/./*|//) log "cache path $p refused"; continue ;; esac
        if [ "$1" = restore ]; then from=$kept to=$live; else from=$live to=$kept; fi
        if [ ! -e "$from" ]; then [ "$1" = restore ] && log "cache $p: nothing kept yet"; continue; fi
        if run_as_agent sh -c "$cache_copy_script" sh "$from" "$to" 2>>"$out/runner.log"; then
            log "cache $p: ${1}d $2 ($(du -sk "$to" 2>/dev/null | cut -f1) KiB)"
        else
            log "cache $p: $1 failed"
        fi
    done
    sync
}
# The environment's variables reach setup and the agent.
if [ -f "$io/environment.env" ]; then
    set -a
    # shellcheck disable=SC1091
    . "$io/environment.env"
    set +a
fi

uptime_ms() { awk '{printf "%d", $1 * 1000}' /proc/uptime; }

# Ends every process of the agent user (setup's daemons, setsid or not): kill(-1) as that user
# signals all of them at once, then /proc is checked until only zombies are left.
end_agent_processes() {
    [ -n "$agent_uid" ] || return 0
    tries=0
    while :; do
        run_as_agent sh -c 'kill -KILL -1' 2>/dev/null
        left=
        for p in /proc/[0-9]*; do
            [ "$(awk '/^Uid:/ {print $2}' "$p/status" 2>/dev/null)" = "$agent_uid" ] || continue
            state=$(sed 's/.*) //' "$p/stat" 2>/dev/null | cut -d' ' -f1)
            [ "$state" = Z ] || [ -z "$state" ] || { left=${p#/proc/}; break; }
        done
        [ -z "$left" ] && return 0
        tries=$((tries + 1))
        [ "$tries" -lt 50 ] || { log "setup: process $left of the agent user survives"; return 1; }
        sleep 0.1 2>/dev/null || sleep 1
    done
}

# Copies what was appended to a log file since byte $2 onto the console (stderr), each line prefixed
# with $3, and prints the new offset. Only complete lines are copied unless $4 is "final".
mirror_lines() { # file from prefix [final]
    size=$(stat -c %s "$1" 2>/dev/null || echo 0)
    if [ "$size" -le "$2" ]; then echo "$2"; return 0; fi
    chunk="$out/.mirror-chunk"
    dd if="$1" bs=65536 skip="$2" count="$((size - $2))" iflag=skip_bytes,count_bytes 2>/dev/null > "$chunk"
    if [ "${4:-}" != final ] && [ "$(tail -c 1 "$chunk" | od -An -tx1 | tr -d ' \n')" != 0a ]; then
        sed '$d' "$chunk" > "$chunk.lines"   # the last line is not complete yet: it waits for the next copy
        mv "$chunk.lines" "$chunk"
    fi
    sed "s/^/$3/" "$chunk" >&2
    echo $(($2 + $(wc -c < "$chunk")))
    rm -f "$chunk"
}

# Runs one command as the agent user (inside nix develop when the repository asks for it), its output
# appended to $2 and shown live on the console as "$3" lines. Returns the command's exit code.
run_logged() { # command logfile prefix [secrets] [nix develop options]
    shown=$(stat -c %s "$2" 2>/dev/null || echo 0)
    (
        if [ -n "${4:-}" ]; then set -a; eval "$4"; set +a; fi
        nix_extra=${5:-}
        run_in_shell sh -c "$1"
    ) >> "$2" 2>&1 < /dev/null &
    cmd_pid=$!
    ticks=0
    while kill -0 "$cmd_pid" 2>/dev/null; do
        sleep 0.2 2>/dev/null || sleep 1
        ticks=$((ticks + 1))
        [ $((ticks % 5)) = 0 ] && shown=$(mirror_lines "$2" "$shown" "$3")
    done
    wait "$cmd_pid"
    rc=$?
    mirror_lines "$2" "$shown" "$3" final > /dev/null
    return "$rc"
}

# Setup: a phase of its own. Each command runs in the workspace as the agent user with the
# environment and the setup secrets (in its environment only); its output goes to out/setup.log and,
# while it runs, to the console as "mvo-setup: " lines. Then every process it left is ended and the
# secrets are gone. MVO_SETUP_SKIP=1: the host found setup's key unchanged for this slot and
# repository (warm slot).
run_setup() {
    [ -f "$io/setup/1" ] || return 0
    if [ "${MVO_SETUP_SKIP:-0}" = 1 ]; then
        echo skipped > "$out/setup.result"
        log "setup skipped: its key is unchanged since this slot last ran it"
        return 0
    fi
    log "setup: starting"
    started=$(uptime_ms)
    : >> "$out/setup.log"
    n=1
    while [ -f "$io/setup/$n" ]; do
        log "setup: command $n"
        run_logged "$(cat "$io/setup/$n")" "$out/setup.log" "mvo-setup: " "$setup_secrets"
        rc=$?
        if [ "$rc" -ne 0 ]; then
            end_agent_processes
            setup_secrets=
            echo "failed $n $rc $(( $(uptime_ms) - started ))" > "$out/setup.result"
            log "setup: command $n exited with $rc; the agent does not start"
            echo 125 > "$out/exit_code"
            : > "$out/done"
            finish 0
        fi
        n=$((n + 1))
    done
    end_agent_processes || { setup_secrets=; echo "failed 0 137 $(( $(uptime_ms) - started ))" > "$out/setup.result"; echo 125 > "$out/exit_code"; : > "$out/done"; finish 0; }
    # the caches first: "ok" is what makes the host record the setup key, so setup is only skipped
    # later when what it made was kept
    cache_sync save "after setup"
    echo "ok $(( $(uptime_ms) - started ))" > "$out/setup.result"
    log "setup: done"
}

# --- nix develop ----------------------------------------------------------------------------
# MVO_NIX_DEVELOP=1: the repository's flake has a devShell and its environment did not opt out, so
# setup and the agent run inside `nix develop` of the workspace, as the agent user. The Debian
# images' Nix is single-user and the agent's (/etc/mvo/nix-single-user): /nix is the cache disk's
# nix/ directory, this repository's on this slot, so what one task built the next one finds (with no
# cache disk it lasts one task). The production image's store and database are its own (nix-daemon;
# guest.nix keeps them on the cache disk). Without network (policy none or api-only) Nix asks no
# binary cache and no flake registry, so nothing waits on a download that cannot happen.
nix_develop=0
run_in_shell() { # the agent user, inside nix develop when it applies ($nix_extra: more options for it)
    if [ "$nix_develop" = 1 ]; then
        # shellcheck disable=SC2086
        run_as_agent nix develop ${nix_extra:-} "$ws" --no-write-lock-file --command "$@"
    else
        run_as_agent "$@"
    fi
}
nix_store_paths() { ls /nix/store 2>/dev/null | grep -vc '\.lock$' || true; }
# The devShell of the last task is a profile in the kept store (a garbage-collector root), so
# collecting garbage never costs the next task its toolchain. The Debian images collect when the
# store's disk is 80% full (mvo.test.nix_gc_percent=N on the kernel command line: N instead);
# the production image's store has the image's paths beneath it and is not collected here.
nix_profile=/nix/var/nix/profiles/per-user/${USER:-agent}/mvo-devshell
nix_collect_if_full() {
    [ "$in_vm" = 1 ] && [ -f /etc/mvo/nix-single-user ] || return 0
    limit=$(sed -n 's/.*mvo\.test\.nix_gc_percent=\([0-9]*\).*/\1/p' /proc/cmdline 2>/dev/null)
    used=$(df -P /nix/store 2>/dev/null | awk 'NR == 2 {sub("%", "", $5); print $5}')
    [ -n "$used" ] && [ "$used" -ge "${limit:-80}" ] || return 0
    log "nix: the store's disk is ${used}% full (collecting from ${limit:-80}%): collecting garbage, the last devShell kept"
    freed=$(run_as_agent nix-collect-garbage 2>&1 | tail -n 1)
    log "nix: ${freed:-garbage collected} ($(nix_store_paths) paths left)"
}
prepare_nix_develop() {
    [ "${MVO_NIX_DEVELOP:-0}" = 1 ] || return 0
    command -v nix >/dev/null 2>&1 || agent_fail "the repository's flake asks for nix develop, but this guest image${MVO_IMAGE_VERSION:+ ($MVO_IMAGE_VERSION)} has no nix; set \"nix_develop\": false in .microvm/environment.json or use an image that has it"
    if [ "$in_vm" = 1 ] && [ -f /etc/mvo/nix-single-user ]; then
        mkdir -p /nix
        if [ -n "$cache_dev" ]; then
            d=$(cache_dir nix)
            mount -o bind "$d" /nix || agent_fail "cannot mount the cache disk's Nix store on /nix"
            log "nix: the store is this repository's on the cache disk ($(nix_store_paths) paths)"
        else
            [ -n "$agent_uid" ] && chown "$agent_uid:$agent_gid" /nix
            log "nix: no cache disk attached: the store lasts this task only"
        fi
    fi
    # Nix's evaluation and fetch caches are kept too, so an unchanged flake is not evaluated again
    if [ -n "$cache_dev" ]; then
        run_as_agent sh -c 'mkdir -p "$HOME/.cache" && rm -rf "$HOME/.cache/nix" && ln -s "$1" "$HOME/.cache/nix"' - "$(cache_dir nix-cache)" \
            || log "nix: its evaluation cache is not kept"
    fi
    case "${MVO_NETWORK:-}" in
        full|allowlist) ;;
        *) NIX_CONFIG="substituters =${NIX_CONFIG:+
$NIX_CONFIG}"
           [ -f /etc/nix/offline-registry.json ] && NIX_CONFIG="$NIX_CONFIG
flake-registry = /etc/nix/offline-registry.json"
           export NIX_CONFIG ;;
    esac
    # The devShell's environment is evaluated and built once, here; setup and the agent then find it
    # in the store. Its outcome: out/nix-develop.result "ok MS PATHS_BEFORE PATHS_AFTER BUILT" or
    # "failed EXIT MS" (the agent does not start).
    log "nix develop: preparing the devShell of the workspace's flake"
    started=$(uptime_ms)
    before=$(nix_store_paths)
    : >> "$out/setup.log"
    from=$(stat -c %s "$out/setup.log")
    nix_collect_if_full
    run_as_agent mkdir -p "${nix_profile%/*}"
    nix_develop=1
    run_logged "true" "$out/setup.log" "mvo-nix: " "" "--profile $nix_profile"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "failed $rc $(( $(uptime_ms) - started ))" > "$out/nix-develop.result"
        log "nix develop exited with $rc; the agent does not start"
        echo 125 > "$out/exit_code"
        : > "$out/done"
        finish 0
    fi
    built=$(dd if="$out/setup.log" bs=65536 skip="$from" iflag=skip_bytes 2>/dev/null | grep -c "^building '" || true)
    after=$(nix_store_paths)
    echo "ok $(( $(uptime_ms) - started )) $before $after $built" > "$out/nix-develop.result"
    log "nix develop: ready ($built derivation(s) built; store $before -> $after paths)"
}
cache_sync restore "before setup and the agent"
prepare_nix_develop
run_setup
setup_secrets=
unset setup_secrets
if [ -n "$agent_secrets" ]; then set -a; eval "$agent_secrets"; set +a; fi
agent_secrets=
unset agent_secrets

if [ -n "${MVO_AGENT_CMD:-}" ]; then
    log "running agent command"
    if [ "$nix_develop" = 1 ]; then
        start_agent nix develop "$ws" --no-write-lock-file --command sh -c "$MVO_AGENT_CMD" > "$out/agent.log" 2>&1 < /dev/null &
    else
        start_agent sh -c "$MVO_AGENT_CMD" > "$out/agent.log" 2>&1 < /dev/null &
    fi
else
    command -v claude >/dev/null 2>&1 \
        || agent_fail "agent \`claude\` not found in guest image${MVO_IMAGE_VERSION:+ $MVO_IMAGE_VERSION} (PATH=$PATH)"
    set --
    if [ "$nix_develop" = 1 ]; then
        set -- nix develop "$ws" --no-write-lock-file --command
        log "running Claude Code headless, inside nix develop"
    else
        log "running Claude Code headless"
    fi
    start_agent "$@" claude -p "$(cat "$io/prompt.txt")" --output-format stream-json --verbose \
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
# after the bundle: a save cut short by the task's timeout never costs the agent's commits
cache_sync save "after the agent"
: > "$out/done"
log "done"
finish 0
