"The text reproduction and the rollout benchmark run end to end through papermill."
import json
from pathlib import Path

import papermill as pm
import yaml

ROOT = Path(__file__).resolve().parent.parent


def run_notebook(name: str, tmp_path: Path, **parameters) -> dict:
    "Execute nbs/repro/<name>.ipynb from the repository root and return the executed notebook."
    out = tmp_path / f"{name}.ipynb"
    pm.execute_notebook(str(ROOT / "nbs" / "repro" / f"{name}.ipynb"), str(out), parameters=parameters,
                        cwd=str(ROOT), progress_bar=False, kernel_name="python3")
    return json.loads(out.read_text())


def test_text_rl_two_steps(tmp_path):
    out_dir = tmp_path / "run"
    nb = run_notebook("text_rl", tmp_path, max_steps=2, seed=3, estimator="d1", output_dir=str(out_dir))
    for name in ("config.yaml", "metrics.jsonl", "samples.jsonl", "reward_curve.png", "results.json"):
        assert (out_dir / name).exists(), name
    assert (out_dir / "checkpoints" / "checkpoint-2" / "trainer_state.json").exists()
    config = yaml.safe_load((out_dir / "config.yaml").read_text())
    assert config["seed"] == 3
    assert config["estimator"] == "d1"
    assert config["max_steps"] == 2
    metrics = [json.loads(l) for l in (out_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]
    results = json.loads((out_dir / "results.json").read_text())
    for phase in ("eval_before", "eval_after"):
        assert 0.0 <= results[phase]["accuracy"] <= 1.0
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected, "papermill did not inject the parameters"
    outputs = json.dumps([c.get("outputs", []) for c in nb["cells"]])
    assert "accuracy before" in outputs, "the results table is not shown"
    assert "image/png" in outputs, "the reward curve is not shown"


def test_text_rl_rejects_unknown_scale(tmp_path):
    try:
        run_notebook("text_rl", tmp_path, scale="huge", output_dir=str(tmp_path / "run"))
    except pm.PapermillExecutionError as e:
        assert "scale='huge' is not available" in str(e)
    else:
        raise AssertionError("scale='huge' ran")


def test_bench_rollout_identical_tokens(tmp_path):
    run_notebook("bench_rollout", tmp_path, repeats=1, output_dir=str(tmp_path / "bench"))
    results = json.loads((tmp_path / "bench" / "results.json").read_text())
    assert results["identical_tokens"] is True
    assert results["speedup"] > 0
    samplers = results["images"]["samplers"]
    assert sorted(samplers) == ["emerge", "maskgit"]
    for sampler in samplers.values():
        assert sampler["forward_passes"] == results["images"]["steps"]
        assert 0.0 <= sampler["success"] <= 1.0
        assert sampler["seconds"] > 0
