#!/usr/bin/env bash
# The agent load of bench/run.sh on two `breeze serve` replicas sharing one PostgreSQL
# database and one NATS server (issue 14), agents split across them (agent i on replica
# i % 2), one load generator. Setup and the commands queued through the API go to the
# first replica, so a command for an agent on the second reaches it through a NATS wake-up.
#   bench/run-replicas.sh postgres 10000 60 180
#   bench/run-replicas.sh postgres 10000 60 180 --alert-rules 20   # extra flags go to breeze-loadgen
# The first argument is ignored (replicas need PostgreSQL); it keeps run.sh's order.
# bench/run-fleet.sh does the work (and runs bigger fleets, over more replicas and load
# generators).
set -euo pipefail
BREEZE_REPLICAS=2 BREEZE_LOADGENS=1 exec "$(dirname "$0")/run-fleet.sh" postgres "${@:2}"
