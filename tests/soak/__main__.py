"""``python -m tests.soak [--objects N] [--in-flight N] [--faults N] [--seed N]``.

Prints one line of counts (and what went wrong, if anything); exit 1 unless all are zero.
"""

from __future__ import annotations

import argparse
import sys

from tests.soak.harness import SoakConfig, run_soak, summarise


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    defaults = SoakConfig()
    parser.add_argument("--objects", type=int, default=defaults.objects)
    parser.add_argument("--extensions", type=int, default=defaults.extensions)
    parser.add_argument("--keys-per-extension", type=int, default=defaults.keys_per_extension)
    parser.add_argument("--in-flight", type=int, default=defaults.in_flight)
    parser.add_argument("--faults", type=int, default=defaults.faults)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args()
    report = run_soak(
        SoakConfig(
            objects=args.objects,
            extensions=args.extensions,
            keys_per_extension=args.keys_per_extension,
            in_flight=args.in_flight,
            faults=args.faults,
            seed=args.seed,
        )
    )
    print(summarise(report), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
