#!/usr/bin/env bash
# Runs the fuzz targets for SECONDS each (default 600), two at a time and
# niced (a 2-core machine), then prints each one's final libFuzzer figures.
# Corpora go to fuzz/corpus/TARGET, logs to fuzz/logs/TARGET.log, crashes
# to fuzz/artifacts/TARGET/ (none of them committed). See docs/fuzzing.md.
#
#     fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(notify_parse line_splitter protocol_lines supervise_config)
fi

# cargo-fuzz needs nightly's -Z flags: a nightly toolchain if there is one,
# else the pinned stable one allowed them by RUSTC_BOOTSTRAP=1.
if rustup run nightly rustc --version >/dev/null 2>&1; then
    fuzz=(cargo +nightly fuzz)
    rustc_version=$(rustc +nightly --version)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
    rustc_version=$(rustc --version)
fi
echo "toolchain: $rustc_version; $(cargo fuzz --version)"

"${fuzz[@]}" build
mkdir -p logs

# Seeds: the sample configuration, and a few datagrams.
mkdir -p corpus/supervise_config corpus/notify_parse
cp ../examples/supervise.toml corpus/supervise_config/seed-supervise.toml
printf 'READY=1\nSTATUS=ok\n' >corpus/notify_parse/seed-ready
printf 'MAINPID=4711\nWATCHDOG_USEC=20000000\nX_MINE=1\0' >corpus/notify_parse/seed-mainpid

# Inputs large enough to cross each limit: 4096-byte datagrams, lines of
# up to 64 KiB (reads are repeated up to 16 times).
declare -A max_len=([notify_parse]=8192 [line_splitter]=16384 [protocol_lines]=16384 [supervise_config]=4096)

run() {
    local t=$1 opts=(-max_total_time="$secs" -print_final_stats=1 -max_len="${max_len[$1]:-4096}")
    if [ -f "dict/$t.dict" ]; then opts+=(-dict="dict/$t.dict"); fi
    mkdir -p "corpus/$t"
    nice -n 10 "${fuzz[@]}" run "$t" "corpus/$t" -- "${opts[@]}" >"logs/$t.log" 2>&1
}

status=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    pids=()
    for t in "${targets[@]:i:2}"; do
        run "$t" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || status=1; done
done

for t in "${targets[@]}"; do
    echo "== $t"
    grep -E '^#[0-9]+[[:space:]]+DONE' "logs/$t.log" | tail -1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "logs/$t.log" || true
    echo "corpus: $(find "corpus/$t" -type f | wc -l) files, $(du -sh "corpus/$t" | cut -f1)"
    if grep -qE 'ERROR: libFuzzer|panicked' "logs/$t.log"; then
        echo "CRASH: see logs/$t.log and artifacts/$t/"
    fi
done
exit $status
