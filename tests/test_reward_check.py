"The reward-check reproduction notebook, run through papermill on the GSM8K completions."
import json
from pathlib import Path

import pytest

from maskgrpo.tasks import shared_data_dir

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "nbs" / "repro" / "reward_check.ipynb"


def test_reward_check_gsm8k(tmp_path):
    papermill = pytest.importorskip("papermill")
    if shared_data_dir() is None: pytest.skip("../shared/data is absent, so the LLaDA completions are not available")
    output_dir = tmp_path / "reward_check"
    papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "executed.ipynb"), cwd=str(ROOT), kernel_name="python3",
                               parameters={"task": "gsm8k", "output_dir": str(output_dir)},
                               progress_bar=False)
    results = json.loads((output_dir / "results.json").read_text())
    assert results["task"] == "gsm8k"
    assert results["n"] == 1130
    assert results["correct"] == 873
    assert results["accuracy_percent"] == 77.26
    assert results["reference_accuracy_percent"] == 76.37
    assert results["difference_points"] == pytest.approx(0.89)
    assert "d1" in results["reference_source"]
