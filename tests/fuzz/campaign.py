"""Run mutants through the fork server and check the contract every command owes its user.

Per command run:
- the exit code is 0, 1 or 2 (a timeout, a signal or an escaped exception is a finding);
- no traceback, and no ``layergraph: unexpected ...`` line (the CLI's last resort: the reader that
  failed lacks its own clear error); on exit 2 stderr is exactly one line; no line is huge;
- the child's own peak resident size stays under ``peak_bound``;
- on failure the working folder is exactly as before (nothing written, nothing changed, no temporaries);
- what ``import`` writes passes ``validate`` (exit 0 or 1, never 2).
"""
from __future__ import annotations

import hashlib
import random
import shutil
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz import mutate as mutation
from tests.fuzz.forkserver import ForkServer
from tests.fuzz.seeds import Seed

MAX_LINE = 2100  # cli.error caps a message at 2000 characters plus its prefix
MAX_OUTPUT = 1_000_000
KINDS = ("documents", "weights", "data", "archives")


@dataclass
class Finding:
    kind: str
    seed: str
    index: int
    mutator: str
    command: str
    problem: str
    line: str


@dataclass
class Tally:
    tried: Counter = field(default_factory=Counter)
    clean: Counter = field(default_factory=Counter)
    peak_kb: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(folder))] = (p.stat().st_size, hashlib.sha1(p.read_bytes()).hexdigest())
        elif p.is_dir():
            out[str(p.relative_to(folder)) + "/"] = (0, "")
    return out


def output_problems(rc: int, out: str, err: str) -> tuple[str, str] | None:
    """(problem, the line to show) when a command's exit code or output breaks the contract."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    if "Traceback (most recent call last)" in out + err:
        return "traceback", next((ln for ln in reversed(lines) if ln and not ln.startswith(" ")), last)
    if rc not in (0, 1, 2):
        return f"exit code {rc}", last
    unexpected = [ln for ln in lines if ln.startswith("layergraph: unexpected ")]
    if unexpected:
        return "unexpected error", unexpected[0]
    if len(out) + len(err) > MAX_OUTPUT:
        return "output too large", f"{len(out) + len(err):,} characters"
    long = [ln for ln in (out + err).splitlines() if len(ln) > MAX_LINE]
    if long:
        return "line too long", long[0][:200]
    if rc == 2 and (len(lines) != 1 or not last.startswith("layergraph: ")):
        return "not one error line", " | ".join(lines)[:300]
    if rc == 1 and not lines:
        return "failed silently", ""
    return None


class Campaign:
    """Mutants for each kind, one at a time through one fork server (one worker: the machine is shared)."""

    def __init__(self, seeds: dict[str, list[Seed]], work: Path, *, base_seed: int = 0, memory_limit: int,
                 timeout: int = 60, env: dict[str, str] | None = None) -> None:
        self.seeds = seeds
        self.work = work
        self.base_seed = base_seed
        self.peak_bound_kb = int(memory_limit * 1.2) // 1024
        self.timeout = timeout
        self.tally = Tally()
        mutation.BOMB_BYTES = 2 * memory_limit
        env = dict(env or {})
        env.setdefault("LAYERGRAPH_MEMORY_LIMIT", str(memory_limit))
        self.server = ForkServer(env)
        # the guard against a runaway mutant: far above the bound, so the bound is what gets reported
        self.address_space = 2 * memory_limit + 1024 ** 3

    def close(self) -> None:
        self.server.close()

    # ----- one case --------------------------------------------------------------------------------------
    def case(self, kind: str, index: int) -> tuple[Seed, str, bytes, tuple[str, ...]]:
        """The seed, mutator name, mutant bytes and command of mutant ``index`` of ``kind`` (reproducible)."""
        rng = random.Random(f"{self.base_seed}:{kind}:{index}")
        seed = self.seeds[kind][index % len(self.seeds[kind])]
        name, data = mutation.mutate(kind, seed.target, seed.files[seed.target], rng)
        command = seed.commands[(index // len(self.seeds[kind])) % len(seed.commands)]
        return seed, name, data, command

    def write_case(self, folder: Path, seed: Seed, data: bytes | None) -> None:
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for name, payload in seed.files.items():
            (folder / name).write_bytes(data if name == seed.target and data is not None else payload)

    def run_command(self, folder: Path, argv: tuple[str, ...]) -> tuple[int, str, str, int]:
        out, err = self.work / "stdout.txt", self.work / "stderr.txt"
        reply = self.server.run(folder, list(argv), out, err, self.timeout, self.address_space)
        read = lambda p: p.read_bytes()[:4 * MAX_OUTPUT].decode("utf-8", "replace")  # noqa: E731
        return reply["rc"], read(out), read(err), reply["peak_kb"]

    def check(self, kind: str, seed: Seed, data: bytes | None, argv: tuple[str, ...]) -> tuple[str, str] | None:
        """Run one command on one case; the first broken rule, if any."""
        folder = self.work / "case"
        self.write_case(folder, seed, data)
        before = snapshot(folder)
        rc, out, err, peak = self.run_command(folder, argv)
        self.tally.peak_kb[kind] = max(self.tally.peak_kb[kind], peak)
        problem = output_problems(rc, out, err)
        if problem:
            return problem
        if peak > self.peak_bound_kb:
            return "memory", f"peak {peak / 1024:,.0f} MB > {self.peak_bound_kb / 1024:,.0f} MB"
        after = snapshot(folder)
        if rc != 0 and after != before:
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            return "wrote on failure", ", ".join(changed)[:300]
        if rc == 0 and argv[0] == "import":
            rc2, out2, err2, _ = self.run_command(folder, ("validate", argv[argv.index("-o") + 1]))
            if rc2 not in (0, 1) or output_problems(rc2, out2, err2):
                return "import wrote a document validate refuses", (err2.strip().splitlines() or [""])[-1]
        return None

    def run_mutant(self, kind: str, index: int) -> Finding | None:
        seed, name, data, argv = self.case(kind, index)
        self.tally.tried[kind] += 1
        problem = self.check(kind, seed, data, argv)
        if problem is None:
            self.tally.clean[kind] += 1
            return None
        finding = Finding(kind, seed.name, index, name, " ".join(argv), *problem)
        self.tally.findings.append(finding)
        return finding

    def check_seeds(self) -> list[str]:
        """Every unmutated seed succeeds with every command (otherwise the campaign tests nothing)."""
        failures = []
        for kind, seeds in self.seeds.items():
            for seed in seeds:
                for argv in seed.commands:
                    folder = self.work / "case"
                    self.write_case(folder, seed, None)
                    rc, out, err, _ = self.run_command(folder, argv)
                    if rc != 0:
                        failures.append(f"{kind} {seed.name} {' '.join(argv)}: {rc} {err.strip()[-300:]}")
        return failures

    def run(self, n: int, budget_s: float, kinds=KINDS, on_finding=None, shard: tuple[int, int] = (0, 1)) -> Tally:
        """Up to ``n`` mutants per kind, interleaving the kinds, within ``budget_s`` seconds.

        ``shard=(k, w)`` runs only the indices ``i`` with ``i % w == k``, so ``w`` workers share one campaign.
        """
        t0 = time.monotonic()
        for index in range(shard[0], n, shard[1]):
            for kind in kinds:
                if time.monotonic() - t0 > budget_s:
                    self.tally.seconds = time.monotonic() - t0
                    return self.tally
                finding = self.run_mutant(kind, index)
                if finding and on_finding:
                    on_finding(finding)
        self.tally.seconds = time.monotonic() - t0
        return self.tally


def merge(tallies: list[Tally]) -> Tally:
    """One tally for workers that ran side by side (seconds: the slowest worker's)."""
    total = Tally()
    for t in tallies:
        total.tried += t.tried
        total.clean += t.clean
        for kind, kb in t.peak_kb.items():
            total.peak_kb[kind] = max(total.peak_kb[kind], kb)
        total.seconds = max(total.seconds, t.seconds)
        total.findings += t.findings
    return total


def signature(f: Finding) -> tuple:
    """Findings that differ only in numbers and quoted values count as one."""
    import re

    text = re.sub(r"'[^']*'|\"[^\"]*\"|\d+", "#", f.line)[:90]
    return f.kind, f.command.split()[0], f.problem, text


def report(tally: Tally, budget_note: str = "") -> str:
    lines = [f"campaign: {tally.seconds / 60:.1f} min {budget_note}".rstrip()]
    for kind in KINDS:
        if tally.tried[kind]:
            pct = 100 * tally.clean[kind] / tally.tried[kind]
            lines.append(f"{kind:10} {tally.tried[kind]:7,} tried, {tally.clean[kind]:7,} clean ({pct:.2f} %), "
                         f"peak {tally.peak_kb[kind] / 1024:,.0f} MB")
    groups: dict[tuple, list[Finding]] = defaultdict(list)
    for f in tally.findings:
        groups[signature(f)].append(f)
    if groups:
        lines.append(f"{len(tally.findings)} finding(s) in {len(groups)} group(s):")
    for fs in groups.values():
        f = fs[0]
        lines.append(f"  [{f.kind} #{f.index} seed {f.seed} {f.mutator}] x{len(fs)} {f.command}: {f.problem}: "
                     f"{f.line[:300]}")
    return "\n".join(lines)
