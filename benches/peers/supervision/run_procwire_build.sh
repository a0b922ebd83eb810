#!/bin/sh
# Builds procwire's peer host (benches/supervise_peer.rs) in release mode; the
# run_procwire_*.sh scripts call this first (a no-op when it is up to date).
cd "$(dirname "$0")/../../.." || exit 1
cargo build --quiet --release -p procwire-bench --bin supervise-peer
