#!/usr/bin/env bash
# Stop the single-node SLURM test cluster started by ci/slurm-up.sh: cancel its jobs, then stop
# exactly the daemons whose PIDs slurm-up.sh recorded (SIGTERM, then SIGKILL after a timeout).
#
#   ci/slurm-down.sh [RUN_DIR]   RUN_DIR: argument, else $SLURM_RUN_DIR, else /tmp/linkseval-slurm
#
# Environment: SLURM_DOWN_TIMEOUT (seconds per daemon before SIGKILL, default 20).
# The run directory (logs, state) is kept; removes /etc/slurm/slurm.conf if it points into it.
set -euo pipefail

RUN_DIR=${1:-${SLURM_RUN_DIR:-/tmp/linkseval-slurm}}
TIMEOUT=${SLURM_DOWN_TIMEOUT:-20}
ETC_CONF=/etc/slurm/slurm.conf

die() {
    echo "slurm-down: error: $*" >&2
    exit 1
}
log() { echo "slurm-down: $*" >&2; }

[[ -d $RUN_DIR ]] || die "no run directory $RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd -P)
PIDS=$RUN_DIR/pids
export SLURM_CONF=$RUN_DIR/slurm.conf

# /proc/PID/stat fields 3 (state) and 22 (start time); our daemons' names have no spaces.
start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }
state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }

our_pid() { # our_pid NAME: print the recorded PID if that process is still ours
    local file=$PIDS/$1.pid pid started
    [[ -s $file ]] || return 1
    read -r pid started <"$file"
    [[ -d /proc/$pid && $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] || return 1
    [[ $(state "$pid") != Z ]] || return 1 # exited, not yet reaped
    [[ $(start_time "$pid") == "$started" ]] || return 1
    echo "$pid"
}

# Jobs first (their slurmstepd processes outlive slurmd), through SLURM itself.
if our_pid slurmctld >/dev/null && [[ -f $SLURM_CONF ]]; then
    mapfile -t jobs < <(squeue -h -t PENDING,RUNNING,SUSPENDED,COMPLETING -o %i 2>/dev/null || true)
    if ((${#jobs[@]})); then
        log "cancelling jobs: ${jobs[*]}"
        scancel "${jobs[@]}" || true
        deadline=$((SECONDS + TIMEOUT))
        while [[ -n $(squeue -h -t PENDING,RUNNING,SUSPENDED,COMPLETING -o %i 2>/dev/null) ]]; do
            ((SECONDS < deadline)) || { log "jobs still present after ${TIMEOUT}s"; break; }
            sleep 1
        done
    fi
fi

status=0
for name in slurmd slurmctld munged; do
    if ! pid=$(our_pid "$name"); then
        log "$name not running (nothing to stop)"
        rm -f "$PIDS/$name.pid"
        continue
    fi
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + TIMEOUT))
    while our_pid "$name" >/dev/null; do
        if ((SECONDS >= deadline)); then
            log "$name (pid $pid) ignored SIGTERM for ${TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
            our_pid "$name" >/dev/null && { log "$name (pid $pid) survived SIGKILL"; status=1; }
            break
        fi
        sleep 0.2
    done
    our_pid "$name" >/dev/null || { log "stopped $name (pid $pid)"; rm -f "$PIDS/$name.pid"; }
done

if [[ -L $ETC_CONF && $(readlink "$ETC_CONF") == "$RUN_DIR/slurm.conf" ]]; then
    rm -f "$ETC_CONF"
fi
((status == 0)) || die "some daemons could not be stopped"
