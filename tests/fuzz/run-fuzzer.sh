#!/bin/sh
# Runs one libFuzzer target for a bounded time: FUZZER NAME SEEDS SECONDS.
# New inputs go to a corpus in the build tree, never into the seeds; a
# crash leaves its input there too and fails the test, naming the file.
set -eu
fuzzer=$1 name=$2 seeds=$3 secs=$4
work=$(dirname "$fuzzer")/fuzz-work/$name
mkdir -p "$work/corpus" "$work/crashes"
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
    -print_final_stats=1 -artifact_prefix="$work/crashes/" \
    "$work/corpus" "$seeds" 2>"$work/log" && status=0 || status=$?
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|cov:" "$work/log" \
    | tail -3
if [ "$status" != 0 ]; then
    tail -n 60 "$work/log"
    echo "fuzz $name: failure, input in $work/crashes/" >&2
    # libFuzzer reports findings with status 77, which meson would count
    # as a skipped test.
    exit 1
fi
