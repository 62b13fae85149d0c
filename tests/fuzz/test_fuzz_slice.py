"""CI's slice of the fuzz campaign (about a minute) and checks that the campaign's own rules can fail."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.fuzz.campaign import KINDS, Campaign, output_problems, report
from tests.fuzz.mutate import prebuild_bombs
from tests.fuzz.seeds import build_seeds

SLICE_SECONDS = 45
LIMIT = 256 * 1024 ** 2
CACHE = Path(tempfile.gettempdir()) / "layergraph-fuzz-seeds"


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    c = Campaign(build_seeds(CACHE), tmp_path_factory.mktemp("fuzz"), base_seed=1, memory_limit=LIMIT)
    prebuild_bombs()
    yield c
    c.close()


def test_every_seed_passes_every_command_unmutated(campaign):
    assert campaign.check_seeds() == []


def test_a_slice_of_mutants_of_every_kind_is_clean(campaign):
    tally = campaign.run(10_000, SLICE_SECONDS)
    text = report(tally)
    assert all(tally.tried[k] >= 5 for k in KINDS), text
    assert not tally.findings, text


@pytest.mark.parametrize("rc, out, err, problem", [
    (2, "", 'Traceback (most recent call last):\n  File "x"\nKeyError: 1\n', "traceback"),
    (-9, "", "", "exit code -9"),
    (70, "", "layergraph: x\n", "exit code 70"),
    (2, "", "layergraph: unexpected KeyError while running 'validate': 'a'\n", "unexpected error"),
    (2, "", "layergraph: a\nlayergraph: b\n", "not one error line"),
    (2, "", "warning\n", "not one error line"),
    (1, "", "", "failed silently"),
    (0, "x" * 3000, "", "line too long"),
])
def test_the_output_rules_flag_broken_output(rc, out, err, problem):
    assert output_problems(rc, out, err)[0] == problem


@pytest.mark.parametrize("rc, out, err", [(0, "g.lgraph: valid (4 layers, 10 params)\n", ""),
                                          (2, "", "layergraph: g.lgraph: no such file.\n"),
                                          (1, "dense: needs an input\n", "g.lgraph: 1 problem(s)\n")])
def test_the_output_rules_pass_the_cli_contract(rc, out, err):
    assert output_problems(rc, out, err) is None


def test_the_peak_is_each_childs_own(campaign):
    """A bomb mutant's peak is reported for its child only; the next small command reports a small peak
    (RUSAGE_CHILDREN would keep the maximum)."""
    seed = campaign.seeds["data"][0]
    folder = campaign.work / "peak"
    campaign.write_case(folder, seed, None)
    import numpy as np
    np.save(folder / "big.npy", np.ones((40, 1024, 1024), np.uint8))  # 40 MB read by predict --input
    big = campaign.run_command(folder, ("predict", "g.lgraph", "--input", "big.npy", "-o", "p.npz"))[3]
    small = campaign.run_command(folder, ("validate", "g.lgraph"))[3]
    assert big - small > 30 * 1024, (big, small)
