#!/bin/sh
# Workload C (stdout capture: 1e6 x 32 B lines; one 100 KiB line) for procwire; arg 1 = runs
cd "$(dirname "$0")" || exit 1
sh run_procwire_build.sh || exit 1
python3 wl_C.py procwire "${1:-3}" lines
python3 wl_C.py procwire "${1:-3}" lines redirect   # stdout = the file: ProgramSpec::output_file
python3 wl_C.py procwire 1 long
