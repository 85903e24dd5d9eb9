"The MaskGRPO trainer end to end on tiny Hugging Face models built offline: masked LMs, a Dream-style model, LoRA."
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model here is built locally, so nothing needs the network

import json
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models as tok_models, pre_tokenizers
from transformers import BertConfig, BertForMaskedLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from maskgrpo.hf import REFERENCE_ADAPTER, TRAIN_ADAPTER, HFPolicy, HFTokenizer, apply_lora, save_adapter
from maskgrpo.rollout import generate
from maskgrpo.trainer import GRPOConfig, MaskGRPOTrainer

WORDS = ["[PAD]", "[MASK]", "[EOS]", "[BOS]", "[UNK]", "<user>", "<assistant>", *"0123456789", "+", "="]
EXAMPLES = [{"prompt": f"{a} + {b}"} for a in range(4) for b in range(3)]


def make_tokenizer() -> PreTrainedTokenizerFast:
    "Word-level tokenizer over WORDS with [MASK], [PAD] and [EOS] and a one-line chat template."
    backend = Tokenizer(tok_models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", mask_token="[MASK]",
                                  eos_token="[EOS]", bos_token="[BOS]", unk_token="[UNK]")
    tok.chat_template = ("{% for m in messages %}<user> {{ m['content'] }} {% endfor %}"
                         "{% if add_generation_prompt %}<assistant>{% endif %}")
    return tok


def tiny_bert(seed: int = 0) -> BertForMaskedLM:
    torch.manual_seed(seed)
    return BertForMaskedLM(BertConfig(vocab_size=len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                      intermediate_size=64, max_position_embeddings=64, pad_token_id=0))


def tiny_qwen2(seed: int = 0) -> Qwen2ForCausalLM:
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(Qwen2Config(vocab_size=len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                        num_key_value_heads=1, intermediate_size=64, max_position_embeddings=64,
                                        tie_word_embeddings=False))


def checksum_reward(prompts, completions, **columns):
    "Differs for almost any two different texts, so groups of distinct completions get non-zero advantages."
    return [(sum(map(ord, c)) % 97) / 97 for c in completions]


def tiny_config(output_dir: Path, **overrides) -> GRPOConfig:
    values = dict(output_dir=str(output_dir), max_steps=1, prompts_per_step=2, num_generations=2, gen_length=4,
                  diffusion_steps=4, block_length=4, num_iterations=2, per_device_batch_size=4, logp_batch_size=4,
                  eval_batch_size=4, temperature=1.0, learning_rate=1e-2, beta=0.04, progress=False, sample_steps=1,
                  num_sample_prompts=2, seed=0)
    values.update(overrides)
    return GRPOConfig(**values)


def make_trainer(policy: HFPolicy, tmp_path: Path, **overrides) -> MaskGRPOTrainer:
    tokenizer = HFTokenizer(make_tokenizer(), policy.layout)
    return MaskGRPOTrainer(policy, tokenizer, [checksum_reward], EXAMPLES[:8], EXAMPLES[8:10],
                           tiny_config(tmp_path / "run", **overrides))


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def changed_names(before: dict[str, torch.Tensor], module: torch.nn.Module) -> set[str]:
    return {n for n, p in module.named_parameters() if not torch.equal(before[n], p.detach())}


def read_metrics(trainer: MaskGRPOTrainer) -> list[dict]:
    return [json.loads(line) for line in (trainer.output_dir / "metrics.jsonl").read_text().splitlines()]


def check_one_step(trainer: MaskGRPOTrainer):
    "Shared checks after `train()` with max_steps=1: one finite metrics row with a learning signal."
    metrics = read_metrics(trainer)
    assert [m["step"] for m in metrics] == [1]
    row = metrics[0]
    for key in ("loss", "kl", "reward/mean", "clip_ratio", "mask_ratio"):
        assert torch.isfinite(torch.tensor(row[key])), (key, row[key])
    assert row["kl"] >= 0
    assert row["frac_reward_zero_std"] < 1, "every group tied, so the step had no learning signal"


def test_bert_mlm_rollout_and_step(tmp_path):
    policy = HFPolicy.from_preset(tiny_bert(), "mlm", make_tokenizer())
    tokenizer = HFTokenizer(make_tokenizer(), policy.layout)
    prompt_ids, prompt_mask = tokenizer.encode_prompts(["1 + 2", "3"])
    completion_ids = generate(policy.eval(), prompt_ids, prompt_mask, gen_length=4, steps=4, block_length=4,
                              temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert completion_ids.shape == (2, 4)
    banned = torch.tensor([policy.layout.mask_token_id, policy.layout.pad_token_id])
    assert not torch.isin(completion_ids, banned).any()
    assert len(tokenizer.decode_completions(completion_ids)) == 2

    trainer = make_trainer(policy, tmp_path)
    before = snapshot(policy)
    results = trainer.train()
    check_one_step(trainer)
    assert changed_names(before, policy), "one full-parameter step changed no weight"
    assert set(results) == {"eval_before", "eval_after"}
    assert (trainer.output_dir / "checkpoints" / "checkpoint-1" / "policy" / "config.json").exists()


def test_bert_mlm_lora_step(tmp_path):
    policy = apply_lora(HFPolicy.from_preset(tiny_bert(), "mlm", make_tokenizer()), rank=4, alpha=8)
    trainer = make_trainer(policy, tmp_path)
    ids, mask = HFTokenizer(make_tokenizer(), policy.layout).encode_prompts(["1 + 2", "3"])
    with torch.no_grad():
        start_logits = policy.eval()(ids, mask)
        assert torch.allclose(trainer.ref_model(ids, mask), start_logits, atol=1e-6)
    before = snapshot(policy)
    trainer.train()
    check_one_step(trainer)

    changed = changed_names(before, policy)
    assert changed, "one LoRA step changed no weight"
    assert all(f".lora_B.{TRAIN_ADAPTER}." in n or f".lora_A.{TRAIN_ADAPTER}." in n for n in changed), changed
    with torch.no_grad():
        assert torch.allclose(trainer.ref_model(ids, mask), start_logits, atol=1e-6), "the reference moved"
        assert not torch.allclose(policy.eval()(ids, mask), start_logits, atol=1e-6)
    saved = trainer.output_dir / "checkpoints" / "checkpoint-1" / "policy"
    assert (saved / "adapter_config.json").exists()
    assert not (saved / REFERENCE_ADAPTER).exists(), "the frozen reference adapter was saved with the trained one"


def test_modernbert_mlm_step(tmp_path):
    transformers = pytest.importorskip("transformers")
    if not hasattr(transformers, "ModernBertConfig"): pytest.skip("this transformers has no ModernBERT")
    torch.manual_seed(0)
    config = transformers.ModernBertConfig(
        vocab_size=len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=64, pad_token_id=0, bos_token_id=3, eos_token_id=2, cls_token_id=3, sep_token_id=2,
        global_attn_every_n_layers=1, local_attention=16)
    policy = HFPolicy.from_preset(transformers.ModernBertForMaskedLM(config), "mlm", make_tokenizer())
    assert policy.lora_target_modules == ["Wqkv", "Wo", "Wi"]
    apply_lora(policy, rank=4, alpha=8)
    trainer = make_trainer(policy, tmp_path)
    before = snapshot(policy)
    trainer.train()
    check_one_step(trainer)
    assert changed_names(before, policy)


def test_dream_style_qwen2_lora_step(tmp_path):
    "A tiny Qwen2 stands in for Dream: shifted logits, pairwise masks that make it bidirectional, Qwen2 LoRA targets."
    policy = apply_lora(HFPolicy.from_preset(tiny_qwen2(), "dream", make_tokenizer()), rank=4, alpha=8)
    assert policy.shift_logits and policy.attention == "pairwise"
    trainer = make_trainer(policy, tmp_path)
    assert trainer.shift_logits
    before = snapshot(policy)
    trainer.train()
    check_one_step(trainer)
    changed = changed_names(before, policy)
    assert changed and all(".lora_" in n for n in changed), changed


def test_kl_zero_from_finetuned_adapter(tmp_path):
    "Start from a trained adapter: the trainer's reference equals the starting policy, not the adapter-disabled base."
    tokenizer = make_tokenizer()
    first = apply_lora(HFPolicy.from_preset(tiny_bert(), "mlm", tokenizer), rank=4, alpha=8)
    ids, mask = HFTokenizer(tokenizer, first.layout).encode_prompts(["1 + 2", "3"])
    optimizer = torch.optim.Adam([p for p in first.parameters() if p.requires_grad], lr=5e-2)
    first.train()
    for _ in range(5):
        loss = -torch.log_softmax(first(ids, mask), -1)[..., WORDS.index("7")].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    save_adapter(first, tmp_path / "adapter")

    start = apply_lora(HFPolicy.from_preset(tiny_bert(), "mlm", tokenizer), adapter_path=tmp_path / "adapter")
    trainer = make_trainer(start, tmp_path)
    with torch.no_grad():
        start_logits = start.eval()(ids, mask)
        assert torch.allclose(start_logits, first.eval()(ids, mask), atol=1e-5), "the saved adapter did not load"
        assert torch.allclose(trainer.ref_model(ids, mask), start_logits, atol=1e-6), "KL is not 0 at step 0"
        with start.model.disable_adapter():
            base_logits = start(ids, mask)
    assert (base_logits - start_logits).abs().max() > 0.1, "the trained adapter is too close to the base model"

    trainer.train()
    check_one_step(trainer)
    with torch.no_grad():
        assert torch.allclose(trainer.ref_model(ids, mask), start_logits, atol=1e-6), "the reference moved"
