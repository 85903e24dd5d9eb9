"The image and multimodal reproductions run end to end through papermill; the image paper scale plans a run."
import json
from pathlib import Path

import papermill as pm
import pytest
import yaml

from maskgrpo.tasks import shared_data_dir

ROOT = Path(__file__).resolve().parent.parent
RUN_FILES = ("plan.json", "config.yaml", "metrics.jsonl", "samples.jsonl", "reward_curve.png", "samples_before.png",
             "samples_after.png", "results.json")
PNG = b"\x89PNG"


def run_notebook(name: str, tmp_path: Path, **parameters) -> tuple[str, Path]:
    "Execute nbs/repro/<name>.ipynb from the repository root; return its outputs as one string and its output folder."
    out_dir = tmp_path / "run"
    executed = tmp_path / f"{name}.ipynb"
    pm.execute_notebook(str(ROOT / "nbs" / "repro" / f"{name}.ipynb"), str(executed),
                        parameters=dict(output_dir=str(out_dir), **parameters), cwd=str(ROOT), progress_bar=False,
                        kernel_name="python3")
    cells = json.loads(executed.read_text())["cells"]
    return json.dumps([c.get("outputs", []) for c in cells]), out_dir


def read_metrics(out_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


def test_multimodal_rl_two_steps(tmp_path):
    outputs, out_dir = run_notebook("multimodal_rl", tmp_path, max_steps=2, seed=1, sampler="maskgit")
    for name in RUN_FILES: assert (out_dir / name).exists(), name
    for name in ("samples_before.png", "samples_after.png", "reward_curve.png"):
        assert (out_dir / name).read_bytes()[:4] == PNG, name
    config = yaml.safe_load((out_dir / "config.yaml").read_text())
    assert (config["seed"], config["max_steps"], config["image_sampler"]) == (1, 2, "maskgit")
    assert (config["estimator"], config["image_estimator"]) == ("maskgrpo", "image_random")
    metrics = read_metrics(out_dir)
    assert [m["step"] for m in metrics] == [1, 2]
    for key in ("reward/text/mean", "reward/image/mean", "kl/text", "kl/image"):
        assert all(key in m for m in metrics), key
    results = json.loads((out_dir / "results.json").read_text())
    for phase in ("eval_before", "eval_after"):
        assert 0.0 <= results[phase]["accuracy"] <= 1.0
        assert 0.0 <= results[phase]["image/success"] <= 1.0
    samples = [json.loads(line) for line in (out_dir / "samples.jsonl").read_text().splitlines()]
    assert {s["modality"] for s in samples} == {"text", "image"}
    assert "held-out composition success" in outputs, "the results table is not shown"
    assert outputs.count("image/png") >= 3, "the reward curve and the sample grids are not shown"


def test_image_rl_two_steps(tmp_path):
    outputs, out_dir = run_notebook("image_rl", tmp_path, max_steps=2, estimator="random")
    for name in RUN_FILES: assert (out_dir / name).exists(), name
    config = yaml.safe_load((out_dir / "config.yaml").read_text())
    assert (config["image_estimator"], config["image_sampler"], config["max_steps"]) == ("random", "emerge", 2)
    metrics = read_metrics(out_dir)
    assert all("reward/image/mean" in m and "kl/image" in m for m in metrics)
    assert not any("reward/text/mean" in m for m in metrics)
    results = json.loads((out_dir / "results.json").read_text())
    assert 0.0 <= results["eval_after"]["image/success"] <= 1.0
    for category in ("single_digit", "position", "two_digits", "two-digit compositions"):
        assert category in outputs, category


@pytest.mark.parametrize("name, parameter, message", [
    ("image_rl", dict(sampler="dalle"), "GRPOConfig.image_sampler='dalle' is not one of ['emerge', 'maskgit']"),
    ("multimodal_rl", dict(scale="paper"), "scale='paper' is not available for the multimodal reproduction"),
    ("multimodal_rl", dict(estimator="ppo"), "estimator='ppo' is invalid")])
def test_reproductions_reject_bad_parameters(tmp_path, name, parameter, message):
    with pytest.raises(pm.PapermillExecutionError) as error:
        run_notebook(name, tmp_path, **parameter)
    assert message in str(error.value)


def test_image_rl_paper_dry_run(tmp_path):
    outputs, out_dir = run_notebook("image_rl", tmp_path, scale="paper", dry_run=True, num_processes=4,
                                    reward_server="http://127.0.0.1:9/score")
    record = json.loads((out_dir / "plan.json").read_text())
    config = record["config"]
    expected = dict(num_generations=9, num_iterations=6, image_min_mask_rate=0.8, guidance_scale=3.5, image_steps=12,
                    image_shape=[32, 32], image_estimator="image_random", epsilon=0.001, learning_rate=3e-6,
                    mixed_precision="bf16")
    for key, value in expected.items(): assert config[key] == value, key
    assert config["prompts_per_step"] * 4 == 8
    assert record["policy"]["preset"] == "mmada"
    assert record["policy"]["lora_rank"] == 128
    assert record["plan"]["image tokens per image"] == 1024
    assert record["plan"]["rollout sequences per pass (guidance doubles them)"] == 2 * 2 * 9
    local_copy = shared_data_dir() is not None and (shared_data_dir() / "geneval").exists()
    assert ("553 held-out prompts" if local_copy else "not loaded (no local copy)") in outputs
    assert "HPSv3 from http://127.0.0.1:9/score" in outputs
    assert "as given by summaries of the paper" in outputs
    assert "0.81" in outputs
    assert "Dry run" in outputs
    assert not (out_dir / "metrics.jsonl").exists(), "a dry run trained"


def test_image_rl_paper_needs_gpu_and_decoder(tmp_path):
    with pytest.raises(pm.PapermillExecutionError) as error:
        run_notebook("image_rl", tmp_path, scale="paper")
    assert "needs CUDA GPUs" in str(error.value) or "needs dataset_path" in str(error.value)
