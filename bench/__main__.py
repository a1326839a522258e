"""Run benchmarks: `python -m bench` runs all, `python -m bench ingest` one of them."""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = ["ingest", "preview", "rank_quality", "embed", "deliver", "web", "ledger", "scale"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})",
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument(
        "--split",
        choices=["dev", "held-out"],
        help="rank_quality: score one half of the corpus days only (tune on dev)",
    )
    args = parser.parse_args(argv)
    for name in args.names or BENCHMARKS:
        if name not in BENCHMARKS:
            parser.error(f"unknown benchmark {name!r} (choose from {', '.join(BENCHMARKS)})")
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name} ==", flush=True)
        if args.split and name == "rank_quality":
            module.run(quick=args.quick, split=args.split)
        else:
            module.run(quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
