"Checks of the image side across modules: tokens, pretraining loss, samplers, re-masking, the digit reward, saving."
import ast
import subprocess
import sys

import numpy as np
import pytest
import torch

from maskgrpo.images import (NUM_IMAGE_TOKENS, UnifiedTokenizer, digit_classifier, digit_reward, digit_success,
                             encode_image_examples, image_task_splits, render_image_grid, slot_probabilities)
from maskgrpo.likelihood import IMAGE_MIN_MASK_RATE, draw_is_masked, mask_ratio, per_token_logps, sample_seed
from maskgrpo.models import TinyConfig, TinyDiffusionLM
from maskgrpo.pretrain import diffusion_sft_loss
from maskgrpo.rollout import IMAGE_SAMPLERS, generate_image


@pytest.fixture(scope="module")
def tokenizer() -> UnifiedTokenizer:
    return UnifiedTokenizer()


@pytest.fixture(scope="module")
def splits() -> dict:
    return image_task_splits(seed=0)


def tiny_model(tokenizer: UnifiedTokenizer, seed: int = 0) -> TinyDiffusionLM:
    torch.manual_seed(seed)
    config = TinyConfig(vocab_size=len(tokenizer), d_model=32, n_layers=2, n_heads=2, d_ff=64, max_len=192)
    return TinyDiffusionLM(config, tokenizer.layout).eval()


def test_import_loads_no_heavy_modules():
    code = "import sys, maskgrpo.images; print(any(m in sys.modules for m in ('sklearn', 'matplotlib.pyplot', 'matplotlib.figure')))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "False"


def test_classifier_same_in_fresh_process():
    code = ("import numpy as np; from maskgrpo.images import digit_scans, slot_probabilities;"
            "images, _ = digit_scans('heldout'); canvases = np.concatenate([images[:40], images[40:80]], axis=2);"
            "print(repr(slot_probabilities(canvases).round(12).tolist()))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    from maskgrpo.images import digit_scans
    images, _ = digit_scans("heldout")
    in_process = slot_probabilities(np.concatenate([images[:40], images[40:80]], axis=2)).round(12).tolist()
    assert ast.literal_eval(output) == in_process


def test_pretraining_loss_falls_on_image_batch(tokenizer, splits):
    model = tiny_model(tokenizer).train()
    prompt_ids, prompt_mask, completion_ids = encode_image_examples(
        tokenizer, splits["train"][:16], null_prompt_prob=0.1, generator=torch.Generator().manual_seed(0))
    assert completion_ids.shape == (16, NUM_IMAGE_TOKENS)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(15):
        loss = diffusion_sft_loss(model, prompt_ids, prompt_mask, completion_ids, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:3]), losses


@pytest.mark.parametrize("sampler", IMAGE_SAMPLERS)
def test_sampled_images_get_rewards(tokenizer, splits, sampler):
    model = tiny_model(tokenizer)
    batch = splits["heldout"][:6]
    prompt_ids, prompt_mask = tokenizer.encode_prompts([e["prompt"] for e in batch], modality="image")
    null_ids, null_mask = tokenizer.encode_prompts([""], modality="image")
    completion_ids = generate_image(model, prompt_ids, prompt_mask, steps=4, guidance_scale=2.0, sampler=sampler,
                                    generator=torch.Generator().manual_seed(0), uncond_prompt_ids=null_ids,
                                    uncond_prompt_mask=null_mask)
    columns = dict(slots=[e["slots"] for e in batch], tag=[e["tag"] for e in batch], modality=[e["modality"] for e in batch])
    rewards = digit_reward([e["prompt"] for e in batch], completion_ids, layout=model.layout, **columns)
    success = digit_success([e["prompt"] for e in batch], list(completion_ids), layout=model.layout, **columns)
    assert all(0.0 <= r <= 1.0 for r in rewards)
    assert set(success) <= {0.0, 1.0}
    figure = render_image_grid(tokenizer.codes_to_image(completion_ids), [f"{r:.2f}" for r in rewards], ncols=3)
    assert len(figure.axes) == 6


def test_image_random_masks_only_image_tokens(tokenizer, splits):
    model = tiny_model(tokenizer)
    prompt_ids, prompt_mask, completion_ids = encode_image_examples(tokenizer, splits["eval"][:4])
    ratio = mask_ratio(0, 6, IMAGE_MIN_MASK_RATE)
    is_masked = draw_is_masked("image_random", prompt_mask, NUM_IMAGE_TOKENS, ratio, [sample_seed(0, 0, i) for i in range(4)])
    assert not is_masked[:, :, :prompt_ids.shape[1]].any()
    assert is_masked[:, :, -NUM_IMAGE_TOKENS:].sum(-1).min() >= 1
    with torch.no_grad():
        logps = per_token_logps(model, prompt_ids, prompt_mask, completion_ids, is_masked, tokenizer.mask_token_id)
    assert logps.shape == (4, NUM_IMAGE_TOKENS)
    scored = is_masked[:, 0, -NUM_IMAGE_TOKENS:]
    assert (logps[scored] < 0).all()
    assert (logps[~scored] == 0).all()


def test_image_random_accepted_by_trainer_config():
    from maskgrpo.trainer import GRPOConfig
    assert GRPOConfig(estimator="image_random", min_mask_rate=IMAGE_MIN_MASK_RATE).estimator == "image_random"


def test_saved_model_and_tokenizer_replay(tokenizer, tmp_path):
    model = tiny_model(tokenizer, seed=3)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded_tokenizer = UnifiedTokenizer.from_pretrained(tmp_path)
    loaded = TinyDiffusionLM.from_pretrained(tmp_path).eval()
    assert loaded.layout == loaded_tokenizer.layout == tokenizer.layout
    prompt_ids, prompt_mask = tokenizer.encode_prompts(["a 3", "a 5 on the right"], modality="image")
    first = generate_image(model, prompt_ids, prompt_mask, steps=3, generator=torch.Generator().manual_seed(9))
    again = generate_image(loaded, prompt_ids, prompt_mask, steps=3, generator=torch.Generator().manual_seed(9))
    assert torch.equal(first, again)


def test_classifier_is_cached():
    assert digit_classifier() is digit_classifier()
