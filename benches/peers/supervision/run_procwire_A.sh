#!/bin/sh
# Workload A (restart throughput) for procwire; arg 1 = runs (default 3)
cd "$(dirname "$0")" || exit 1
sh run_procwire_build.sh || exit 1
python3 wl_A.py procwire "${1:-3}" echo
python3 wl_A.py procwire "${1:-3}" true   # /bin/true, counted by the peer's spawn counter (SIGUSR2)
