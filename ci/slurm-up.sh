#!/usr/bin/env bash
# Start a single-node SLURM test cluster on this machine (no systemd, no accounting database):
# munged, slurmctld and slurmd run directly, with their state, logs and PIDs in one run directory.
#
#   ci/slurm-up.sh [RUN_DIR]     RUN_DIR: argument, else $SLURM_RUN_DIR, else /tmp/linkseval-slurm
#   ci/slurm-down.sh [RUN_DIR]   stops exactly what this script started
#
# Needs root (apt-get, munge, slurmd). Installs Debian's slurm-wlm and munge if missing.
# Idempotent: daemons still running from an earlier call with the same RUN_DIR are kept.
# Points /etc/slurm/slurm.conf at RUN_DIR/slurm.conf (a symlink; slurm-down.sh removes it): the
# SLURM commands inside jobs read the default path (the executor plugin's job step drops
# SLURM_CONF). Environment: SLURM_UP_TIMEOUT (seconds to wait for an idle node, default 60).
set -euo pipefail

RUN_DIR=${1:-${SLURM_RUN_DIR:-/tmp/linkseval-slurm}}
TIMEOUT=${SLURM_UP_TIMEOUT:-60}
CLUSTER=linkseval
PARTITION=main
ETC_CONF=/etc/slurm/slurm.conf
# munged refuses a socket below a directory that not everyone can traverse (e.g. pytest's
# 0700 tmp dirs), so the socket lives in /run; everything else stays in RUN_DIR.
MUNGE_SOCKET_DIR=/run/linkseval-munge

die() {
    echo "slurm-up: error: $*" >&2
    [[ -z $(ls -A "${PIDS:-/nonexistent}" 2>/dev/null) ]] \
        || echo "slurm-up: stop what was started with: ci/slurm-down.sh $RUN_DIR" >&2
    exit 1
}
log() { echo "slurm-up: $*" >&2; }

[[ $(id -u) -eq 0 ]] || die "must run as root (installs packages, starts munged and slurmd)"
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd -P)
CONF=$RUN_DIR/slurm.conf
PIDS=$RUN_DIR/pids
export SLURM_CONF=$CONF

# --- packages --------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurm-wlm and munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # the packages must not start their own daemons (init scripts): a temporary policy-rc.d
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null \
        || die "apt-get install slurm-wlm munge failed"
    if [[ $(trap -p EXIT) ]]; then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
fi
command -v slurmctld >/dev/null || die "slurmctld not found after installing slurm-wlm"

# --- munge key (one per machine; a root-owned copy for our root munged) ------------------------
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating /etc/munge/munge.key"
    mkdir -p /etc/munge
    mungekey --create --keyfile=/etc/munge/munge.key || die "mungekey failed"
    if id munge >/dev/null 2>&1; then chown munge:munge /etc/munge/munge.key; fi
    chmod 0400 /etc/munge/munge.key
fi

mkdir -p "$PIDS" "$RUN_DIR/log" "$RUN_DIR/state" "$RUN_DIR/spool" "$RUN_DIR/munge"
chmod 0700 "$RUN_DIR/munge"
mkdir -p "$MUNGE_SOCKET_DIR"
chmod 0755 "$MUNGE_SOCKET_DIR"
install -m 0600 -o root -g root /etc/munge/munge.key "$RUN_DIR/munge/munge.key"

# --- pid bookkeeping: "<pid> <start time>" so a recycled PID is never mistaken for ours -------
# /proc/PID/stat fields 3 (state) and 22 (start time); our daemons' names have no spaces.
start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }
state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }

alive() { # alive NAME: our recorded daemon NAME is still running
    local file=$PIDS/$1.pid pid started
    [[ -s $file ]] || return 1
    read -r pid started <"$file"
    [[ -d /proc/$pid && $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] || return 1
    [[ $(state "$pid") != Z ]] || return 1 # exited, not yet reaped
    [[ $(start_time "$pid") == "$started" ]]
}

launch() { # launch NAME CMD...: start CMD in its own session, record its PID
    local name=$1
    shift
    setsid "$@" </dev/null >>"$RUN_DIR/log/$name.out" 2>&1 &
    local pid=$! until=$((SECONDS + 10))
    # Until setsid has exec'd the daemon, /proc/PID/comm is still "bash" or "setsid", and
    # alive() would call the daemon dead (seen once: "slurmctld exited while waiting for
    # scontrol ping" right after its launch). Wait for the exec, or for the process to end.
    while [[ -d /proc/$pid && $(cat "/proc/$pid/comm" 2>/dev/null) != "$name" ]] && ((SECONDS < until)); do
        sleep 0.05
    done
    echo "$pid $(start_time "$pid")" >"$PIDS/$name.pid"
    log "started $name (pid $pid)"
}

show_log() { # the daemon's log file, else what it printed
    local f=$RUN_DIR/log/$1.log
    [[ -s $f ]] || f=$RUN_DIR/log/$1.out
    [[ -s $f ]] && { echo "--- $f (last 15 lines)" >&2; tail -n 15 "$f" >&2; }
    return 0
}

wait_for() { # wait_for NAME DESCRIPTION CMD...: poll CMD until it succeeds, NAME must stay up
    local name=$1 what=$2 deadline=$((SECONDS + TIMEOUT))
    shift 2
    until "$@" >/dev/null 2>&1; do
        if ! alive "$name"; then
            show_log "$name"
            die "$name exited while waiting for $what (logs in $RUN_DIR/log)"
        fi
        ((SECONDS < deadline)) || { show_log "$name"; die "timed out after ${TIMEOUT}s waiting for $what"; }
        sleep 0.5
    done
}

# --- configuration ---------------------------------------------------------------------------
# slurmd -C: "NodeName=<host> CPUs=.. Boards=.. SocketsPerBoard=.. CoresPerSocket=.. ...
# RealMemory=.."; the node is declared exactly as slurmd sees it (else it is drained).
NODE_LINE=$(SLURM_CONF=/nonexistent slurmd -C | head -n 1) # no config: it would log into ours
[[ $NODE_LINE == NodeName=* ]] || die "unexpected 'slurmd -C' output: $NODE_LINE"
NODE=${NODE_LINE%% *}
NODE=${NODE#NodeName=}
NEW_CONF=$(
    cat <<EOF
# Generated by ci/slurm-up.sh: single-node linkseval test cluster (no accounting database).
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET_DIR/munge.socket
StateSaveLocation=$RUN_DIR/state
SlurmdSpoolDir=$RUN_DIR/spool
SlurmctldPidFile=$RUN_DIR/state/slurmctld.pid
SlurmdPidFile=$RUN_DIR/spool/slurmd.pid
SlurmctldLogFile=$RUN_DIR/log/slurmctld.log
SlurmdLogFile=$RUN_DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
MailProg=/bin/true
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
# squeue keeps finished jobs this long: the executor plugin reads job states from squeue.
MinJobAge=300
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
$NODE_LINE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
)

if [[ -f $CONF ]] && [[ $(cat "$CONF") != "$NEW_CONF" ]] && { alive slurmctld || alive slurmd; }; then
    die "$CONF would change while the cluster runs: run ci/slurm-down.sh $RUN_DIR first"
fi
printf '%s\n' "$NEW_CONF" >"$CONF"

# /etc/slurm/slurm.conf -> our conf, unless it belongs to someone else
mkdir -p /etc/slurm
if [[ -L $ETC_CONF ]]; then
    target=$(readlink "$ETC_CONF")
    if [[ $target != "$CONF" ]]; then
        [[ -e $target ]] && die "$ETC_CONF points to $target: another test cluster?" \
            "Stop it with ci/slurm-down.sh $(dirname "$target")"
        ln -sfn "$CONF" "$ETC_CONF"
    fi
elif [[ -e $ETC_CONF ]]; then
    die "$ETC_CONF exists and is not ours: this machine already has a SLURM configuration"
else
    ln -s "$CONF" "$ETC_CONF"
fi

cat >"$RUN_DIR/env.sh" <<EOF
# source me: the linkseval test cluster's configuration
export SLURM_CONF=$CONF
EOF

# --- daemons ---------------------------------------------------------------------------------
munge_ok() { munge -n -S "$MUNGE_SOCKET_DIR/munge.socket" | unmunge -S "$MUNGE_SOCKET_DIR/munge.socket"; }

if alive munged; then
    log "munged already running"
else
    launch munged munged --foreground --key-file="$RUN_DIR/munge/munge.key" \
        --socket="$MUNGE_SOCKET_DIR/munge.socket" --pid-file="$RUN_DIR/munge/munged.pid" \
        --seed-file="$RUN_DIR/munge/munged.seed"
fi
wait_for munged "munged to answer" munge_ok

if alive slurmctld; then
    log "slurmctld already running"
else
    launch slurmctld slurmctld -D -f "$CONF"
fi
wait_for slurmctld "slurmctld to answer 'scontrol ping'" scontrol ping

if alive slurmd; then
    log "slurmd already running"
else
    launch slurmd slurmd -D -f "$CONF"
fi

node_idle() { [[ $(sinfo -h -n "$NODE" -o %T) == idle ]]; }
wait_for slurmd "node $NODE to be idle in sinfo" node_idle
log "cluster '$CLUSTER' up: node $NODE idle in partition $PARTITION (run dir $RUN_DIR)"
sinfo >&2
