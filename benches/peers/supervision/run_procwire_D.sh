#!/bin/sh
# Workload D (stop latency, kill timeout 1 s, orphans) for procwire; arg 1 = runs (default 3)
cd "$(dirname "$0")" || exit 1
sh run_procwire_build.sh || exit 1
python3 wl_D.py procwire "${1:-3}"
python3 wl_D.py procwire "${1:-3}" shutdown
python3 wl_D.py procwire "${1:-3}" group     # StopScope::Group
python3 wl_D.py procwire "${1:-3}" process   # StopScope::Process (the default before issue 20)
