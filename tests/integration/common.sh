# Helpers shared by every integration test script (sourced).
#
# A script sets FAIL_LOGS to the log files worth showing when it fails
# (their last lines are printed), then uses log, pass, fail and wait_until.

FAIL_LOGS=${FAIL_LOGS:-}
n_checks=0

log() { echo "[$(date +%T.%3N)] $*"; }

fail() {
    echo "FAIL: $*" >&2
    local f
    # What the test's library adds (lib.sh: weftd's view of hosts, ports).
    if declare -F fail_diagnostics >/dev/null; then
        fail_diagnostics >&2 || true
    fi
    for f in $FAIL_LOGS; do
        if [ -f "$f" ]; then
            echo "--- last lines of $f:" >&2
            # Not the RPC requests of the tests' own polling.
            grep -v "|rpc|DBG|" "$f" | tail -n 60 >&2
        fi
    done
    exit 1
}

pass() { n_checks=$((n_checks + 1)); log "ok $n_checks - $*"; }

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.1 s.
wait_until() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            fail "timed out after ${secs}s waiting for: $what"
        fi
        sleep 0.1
    done
}
