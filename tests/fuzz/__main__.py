"""``python -m tests.fuzz --n N --budget MINUTES``: the long campaign (see ``tests/fuzz/__init__.py``).

``--replay KIND:INDEX --keep DIR`` writes one mutant's case into DIR and prints its command, to
reproduce a finding by hand.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tests.fuzz.campaign import KINDS, Campaign, Tally, merge, report
from tests.fuzz.mutate import prebuild_bombs
from tests.fuzz.seeds import build_seeds


def parse_limit(text: str) -> int:
    """``1GB``, ``512MB`` or bytes (binary units)."""
    units = {"GB": 1024 ** 3, "MB": 1024 ** 2, "KB": 1024, "B": 1}
    for unit, factor in units.items():
        if text.upper().endswith(unit):
            return int(float(text[:-len(unit)]) * factor)
    return int(text)


def replay(seeds, args, limit: int) -> int:
    """Write one mutant's case and print its command and the broken rule, to reproduce a finding by hand."""
    with tempfile.TemporaryDirectory(prefix="layergraph-fuzz-") as work:
        campaign = Campaign(seeds, Path(work), base_seed=args.seed, memory_limit=limit)
        try:
            kind, index = args.replay.split(":")
            seed, name, data, command = campaign.case(kind, int(index))
            keep = Path(args.keep or work)
            campaign.write_case(keep, seed, data)
            print(f"{kind} #{index} seed {seed.name} mutator {name}\ncd {keep} && layergraph {' '.join(command)}")
            print(campaign.check(kind, seed, data, command))
        finally:
            campaign.close()
    return 0


def run_shard(seeds, args, limit: int, shard: tuple[int, int]) -> Tally:
    """One worker's share of the campaign, with its own fork server and working folder."""
    with tempfile.TemporaryDirectory(prefix="layergraph-fuzz-") as work:
        campaign = Campaign(seeds, Path(work), base_seed=args.seed, memory_limit=limit)
        try:
            return campaign.run(args.n, args.budget * 60, tuple(args.kinds.split(",")), shard=shard,
                                on_finding=lambda f: print(f"finding: [{f.kind} #{f.index} {f.seed} {f.mutator}] "
                                                           f"{f.command}: {f.problem}: {f.line[:200]}", flush=True))
        finally:
            campaign.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz")
    p.add_argument("--n", type=int, default=10_000, help="mutants per input kind")
    p.add_argument("--budget", type=float, default=60.0, help="minutes for the whole campaign")
    p.add_argument("--seed", type=int, default=0, help="campaign seed (mutant i of a kind is reproducible)")
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--memory-limit", default="1GB", help="LAYERGRAPH_MEMORY_LIMIT for the commands")
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "layergraph-fuzz-seeds"),
                   help="where the Keras seed archives are kept between runs")
    p.add_argument("--replay", default=None, metavar="KIND:INDEX")
    p.add_argument("--keep", default=None, metavar="DIR", help="with --replay: write the case here")
    p.add_argument("--workers", type=int, default=1, help="campaigns side by side, each with its own fork server")
    args = p.parse_args(argv)
    limit = parse_limit(args.memory_limit)
    seeds = build_seeds(Path(args.cache))
    if args.replay:
        return replay(seeds, args, limit)
    with tempfile.TemporaryDirectory(prefix="layergraph-fuzz-") as work:
        campaign = Campaign(seeds, Path(work), base_seed=args.seed, memory_limit=limit)
        prebuild_bombs()  # after the campaign set their size; forked workers inherit them
        try:
            bad = campaign.check_seeds()
        finally:
            campaign.close()
    if bad:
        print("seeds that do not pass unmutated:\n" + "\n".join(bad))
        return 1
    jobs = [(seeds, args, limit, (k, args.workers)) for k in range(args.workers)]
    if args.workers == 1:
        tally = run_shard(*jobs[0])
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            tally = merge(list(pool.map(run_shard, *zip(*jobs))))
    print(report(tally, f"(limit {args.memory_limit})"))
    return 0 if not tally.findings else 1


if __name__ == "__main__":
    sys.exit(main())
