"The trainer under two processes (gloo on CPU): ranks stay in step and write one set of outputs."
import os
import subprocess
import sys
from pathlib import Path

import torch

SCRIPT = '''
import random, sys, torch
from pathlib import Path
from maskgrpo.models import CharTokenizer, TinyConfig, TinyDiffusionLM
from maskgrpo.trainer import GRPOConfig, MaskGRPOTrainer

out = Path(sys.argv[1])
tok = CharTokenizer()
rng = random.Random(0)
toy = [{"prompt": "".join(rng.choice("0123") for _ in range(3))} for _ in range(64)]

def copy_reward(prompts, completions, **kw):
    return [sum(a == b for a, b in zip(c, p)) / len(p) for p, c in zip(prompts, completions)]

torch.manual_seed(0)
model = TinyDiffusionLM(TinyConfig(d_model=32, n_layers=2, n_heads=2, d_ff=64, max_len=16), tok.layout)
cfg = GRPOConfig(output_dir=str(out), max_steps=2, prompts_per_step=2, num_generations=4, gen_length=4,
                 diffusion_steps=4, block_length=4, num_iterations=2, per_device_batch_size=4, learning_rate=1e-2,
                 progress=False, report_to="tensorboard")
trainer = MaskGRPOTrainer(model, tok, [copy_reward], toy[:48], toy[48:], cfg,
                          accuracy_fn=lambda c, e: [float(a == b["prompt"]) for a, b in zip(c, e)])
trainer.train()
rank = trainer.accelerator.process_index
assert trainer.accelerator.num_processes == 2, trainer.accelerator.num_processes
torch.save(torch.cat([p.detach().flatten() for p in trainer.policy.parameters()]), out / f"params_rank{rank}.pt")
'''


def test_two_processes_stay_in_step(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           str(script), str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0 = torch.load(out / "params_rank0.pt")
    rank1 = torch.load(out / "params_rank1.pt")
    assert torch.equal(rank0, rank1)
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2
    assert (out / "results.json").exists()
    assert list((out / "maskgrpo").rglob("events.out.tfevents.*")), "no tensorboard event file"
