"""The execution variants that cost minutes on a CPU: bf16 autocast (~9x slower than fp32 there)
and torch.compile (its first compile), each trained, SIGTERMed mid-epoch, resumed bitwise, and its
checkpoints turned into features and metrics (tests/support/execution.py).  The cheap variants run
in the unit tier (tests/unit/nets/test_execution.py); together they are every variant."""

import pytest

from tests.support.execution import VARIANTS, check_variant

HEAVY = ("bf16", "bf16+channels_last", "compile")
assert set(HEAVY) | {"fp32", "channels_last"} == set(VARIANTS)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("variant", HEAVY)
def test_variant_trains_resumes_bitwise_and_gives_features_and_metrics(variant, tmp_path, monkeypatch):
    check_variant(variant, tmp_path, monkeypatch)
