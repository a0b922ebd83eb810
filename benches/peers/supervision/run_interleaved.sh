#!/bin/sh
# Workloads A and C with the peers' runs interleaved: round after round, one run of each
# contender, so that a load that comes and goes on a shared machine falls on all of them
# alike (run_all.sh runs each peer's rounds back to back). Results appended to
# results.jsonl like the others; python3 summarize.py gives the medians.
# usage: sh run_interleaved.sh A|C [ROUNDS]   (default 7)
#   A: /bin/true on procwire (the default stop), procwire with StopScope::Process, procmon
#   C: 1e6 lines on procwire (through its sink and by file redirect), supervisord, horust
#      (file redirect and pipe), and the floors
cd "$(dirname "$0")" || exit 1
sh run_procwire_build.sh || exit 1
w=$1
i=0
while [ "$i" -lt "${2:-7}" ]; do
    case $w in
        A)
            python3 wl_A.py procwire 1 true
            python3 wl_A.py procwire 1 true process
            python3 wl_A.py procmon 1 true
            ;;
        C)
            python3 wl_C.py procwire 1 lines
            python3 wl_C.py procwire 1 lines redirect
            python3 wl_C.py supervisord 1 lines
            python3 wl_C.py horust 1 lines file
            python3 wl_C.py horust 1 lines pipe
            python3 floor_C.py 1
            ;;
        *) echo "usage: sh run_interleaved.sh A|C [ROUNDS]" >&2; exit 2 ;;
    esac
    i=$((i + 1))
done
