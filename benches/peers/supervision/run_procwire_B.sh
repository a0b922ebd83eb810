#!/bin/sh
# Workload B (idle cost, 200 x sleep) for procwire; arg 1 = runs (default 3)
cd "$(dirname "$0")" || exit 1
sh run_procwire_build.sh || exit 1
python3 wl_B.py procwire "${1:-3}"
