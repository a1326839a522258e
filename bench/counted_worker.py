"""`digest worker` with its clock-driven queries spaced an hour apart, for the instruction
counts of `bench scale` (DIGEST_BENCH_INSTRUCTIONS=1).

Under valgrind a worker runs some fifty times slower, while its heartbeat, its polling and
its search for stalled jobs keep to the wall clock: at their usual spacing they would weigh
fifty times what they weigh in a deployment, and more with more workers sharing the two
cores. Spaced out, the counts hold the work that a run gives a worker (its shards: jobs
fetched, editions composed, messages handed over, the ledger); the timers' cost is measured
apart, natively, as the idle CPU per worker-hour of the plain benchmark.

Run: python -m bench.counted_worker --config FILE worker --name NAME
"""

from __future__ import annotations

from digest.cli import main
from digest.queue import worker

HOUR = 3600.0

worker.HEARTBEAT_EVERY = worker.POLL_EVERY = worker.RETAKE_EVERY = HOUR
worker.WORKER_SILENCE = 3 * HOUR  # no worker counts as gone between two heartbeats

if __name__ == "__main__":
    main()
