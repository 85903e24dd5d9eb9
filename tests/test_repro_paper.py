"The paper scale of the text reproduction: dry runs through papermill, the recorded paper figures, accelerate configs."
import json
from pathlib import Path

import papermill as pm
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent

PAPER_SETTINGS = dict(num_generations=6, num_iterations=12, min_mask_rate=0.6, epsilon=0.2, beta=0.01,
                      learning_rate=3e-6, gen_length=256, diffusion_steps=128, block_length=16, temperature=0.9,
                      mixed_precision="bf16")
REWARDS = {"gsm8k": "gsm8k_reward", "math500": "math_reward", "mbpp": "code_reward"}
CAVEAT = "as given by summaries of the paper"


def run_text_rl(tmp_path: Path, **parameters) -> tuple[str, Path]:
    "Execute text_rl from the repository root; return its outputs as one string and its output folder."
    out_dir = tmp_path / "run"
    executed = tmp_path / "text_rl.ipynb"
    pm.execute_notebook(str(ROOT / "nbs" / "repro" / "text_rl.ipynb"), str(executed),
                        parameters=dict(output_dir=str(out_dir), **parameters), cwd=str(ROOT), progress_bar=False,
                        kernel_name="python3")
    cells = json.loads(executed.read_text())["cells"]
    return json.dumps([c.get("outputs", []) for c in cells]), out_dir


@pytest.mark.parametrize("task, num_processes", [("gsm8k", 1), ("math500", 1), ("mbpp", 8)])
def test_paper_dry_run_plan(tmp_path, task, num_processes):
    outputs, out_dir = run_text_rl(tmp_path, scale="paper", task=task, dry_run=True, num_processes=num_processes)
    assert "gradient accumulation" in outputs
    assert "Dry run: training skipped" in outputs
    assert REWARDS[task] in outputs
    assert "format_reward" in outputs
    assert CAVEAT in outputs, "the paper's figures are shown without their caveat"
    assert not (out_dir / "metrics.jsonl").exists(), "a dry run trained"

    record = json.loads((out_dir / "plan.json").read_text())
    config = record["config"]
    for name, value in PAPER_SETTINGS.items():
        assert config[name] == value, name
    assert config["prompts_per_step"] * num_processes == 16
    assert config["reward_weights"] == [1.0, 0.25]
    assert record["policy"]["lora_rank"] == 128
    assert record["model_path"] == "GSAI-ML/LLaDA-8B-Instruct"
    plan = record["plan"]
    assert plan["samples per step, all processes"] == 96
    assert plan["micro-batches per update (gradient accumulation steps)"] == 16 // num_processes
    assert plan["optimizer steps per rollout batch (mu)"] == 12
    assert plan["rollout forward passes"] == 128
    if task == "gsm8k":
        for figure in ("76.7", "79.8", "84.7"):
            assert figure in outputs, f"the paper's figure {figure} is not shown"


@pytest.mark.skipif(torch.cuda.is_available(), reason="the check under test runs only where no CUDA device is visible")
def test_paper_without_gpu_fails(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="needs CUDA GPUs and the model weights"):
        run_text_rl(tmp_path, scale="paper", task="gsm8k")


def test_paper_rejects_builtin_task(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="task='countdown' is not in the paper's text table"):
        run_text_rl(tmp_path, scale="paper", task="countdown", dry_run=True)


def test_paper_tables_have_source_and_caveat():
    for path in sorted((ROOT / "data" / "paper_tables").glob("*.json")):
        table = json.loads(path.read_text())
        assert table["source"], path.name
        assert table["caveat"].startswith(CAVEAT), path.name
        assert table["rows"], path.name
    text = {r["task"]: r for r in json.loads((ROOT / "data" / "paper_tables" / "text_llada.json").read_text())["rows"]}
    assert (text["gsm8k"]["base"], text["gsm8k"]["diffu_grpo"], text["gsm8k"]["maskgrpo"]) == (76.7, 79.8, 84.7)
    assert (text["math500"]["base"], text["math500"]["diffu_grpo"], text["math500"]["maskgrpo"]) == (32.4, 34.4, 37.6)
    assert text["mbpp"]["maskgrpo"] is None
    assert text["mbpp"]["note"]


@pytest.mark.parametrize("name, processes, kind", [("1gpu", 1, "NO"), ("8gpu_ddp", 8, "MULTI_GPU"),
                                                   ("8gpu_zero2", 8, "DEEPSPEED")])
def test_accelerate_configs_load(name, processes, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    path = ROOT / "data" / "accelerate" / f"{name}.yaml"
    yaml.safe_load(path.read_text())
    config = load_config_from_file(str(path))
    assert config.num_processes == processes
    assert config.distributed_type.value == kind
    if kind == "DEEPSPEED":
        deepspeed = json.loads((ROOT / config.deepspeed_config["deepspeed_config_file"]).read_text())
        assert deepspeed["zero_optimization"]["stage"] == 2
        assert deepspeed["train_micro_batch_size_per_gpu"] * deepspeed["gradient_accumulation_steps"] == 12
