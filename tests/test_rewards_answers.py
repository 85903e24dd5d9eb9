"Checks of the answer rewards in `maskgrpo.rewards`: end tokens, the final-answer rule, math-verify from threads."
import logging
import subprocess
import sys
import threading
import time

import pytest

from maskgrpo.rewards import (MathVerifier, countdown_answer_reward, extract_final_answer, find_numbers, format_reward,
                              gsm8k_reward, math_reward, sudoku_answer_reward, truncate_at_eos)


@pytest.fixture(scope="module")
def verifier():
    with MathVerifier() as shared:
        yield shared


def test_import_loads_no_heavy_modules():
    code = "import sys, maskgrpo.rewards; print(any(m in sys.modules for m in ('torch', 'sympy', 'math_verify')))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "False"


@pytest.mark.parametrize("text, expected", [
    ("5<|eot_id|><|endoftext|><|endoftext|>", "5"),
    ("5<|endoftext|>6<|eot_id|>", "5"),
    ("5</s>6<|im_end|>", "5"),
    ("5<eos>", "5"),
    ("5", "5"),
])
def test_truncate_at_first_end_token(text, expected):
    assert truncate_at_eos(text) == expected


@pytest.mark.parametrize("completion, expected", [
    ("<reasoning>r</reasoning><answer>\\boxed{4}</answer>", "4"),
    ("<answer>\n\\boxed{18}<|eot_id|><|endoftext|>", "18"),
    ("\\boxed{1} and \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    ("<answer>\\boxed{5} or \\boxed{6}</answer>", "6"),
    ("\\boxed{5} <answer>six</answer>", "six"),
    ("<answer>7</answer><answer> 9 </answer>", "9"),
    ("\\boxed{32} <answer>\\boxed{}</answer>", ""),
    ("\\boxed{32} <answer>\\boxed{...}</answer>", "..."),
    ("so \\boxed{78", "78"),
    ("\\boxed{\\text{(C)}}", "\\text{(C)}"),
    ("plain text 5", None),
    ("<answer>\\boxed{5}</answer><|eot_id|>\\boxed{6}", "5"),
])
def test_final_answer_rule(completion, expected):
    assert extract_final_answer(completion) == expected


def test_find_numbers_reads_separators_and_signs():
    assert find_numbers("1,000,000 and -2.5, 10-3, x2") == [1000000, -2.5, 10, 3]


def test_gsm8k_reward_forms(verifier):
    completions = ["<answer>\\boxed{18}</answer>", "<answer>\\boxed{\\$18.00}</answer>", "\\boxed{18 \\text{ dollars}}",
                   "<answer>18 dollars</answer>", "<answer>\\boxed{1,018}</answer>", "<answer>\\boxed{17}</answer>"]
    rewards = gsm8k_reward(None, completions, [18.0, "18", "#### 18", 18, 1018, 18], verifier=verifier)
    assert rewards == [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]


def test_gsm8k_empty_final_box_scores_zero(verifier):
    completions = ["\\boxed{32} so <answer>\\boxed{}32</answer>", "\\boxed{32} <answer>\\boxed{...}</answer>"]
    assert gsm8k_reward(None, completions, [32, 32], verifier=verifier) == [0.0, 0.0]


def test_gsm8k_untagged_text_fallback(verifier):
    completion = "So she earns 9 * 2 = 18 dollars."
    assert gsm8k_reward(None, [completion], [18], verifier=verifier) == [0.0]
    assert gsm8k_reward(None, [completion], [18], verifier=verifier, fallback_to_text=True) == [1.0]


def test_gsm8k_missing_reference_gives_none(verifier):
    assert gsm8k_reward(None, ["\\boxed{5}"], [None], verifier=verifier) == [None]


def test_gsm8k_invalid_reference_raises():
    with pytest.raises(ValueError, match="'five'"):
        gsm8k_reward(None, ["\\boxed{5}"], ["five"])


def test_reward_column_length_checked():
    with pytest.raises(ValueError, match="1 entries for 2 completions"):
        math_reward(None, ["a", "b"], ["1"])


def test_math_reward_equivalences(verifier):
    pairs = [("\\frac{1}{8}", "3/24"), ("\\$36", "36.00"), ("\\frac 34", "\\frac{3}{4}"), ("3, 5, 7", "3, 7, 5"),
             ("10,\\!080", "7! \\times 2!"), ("x \\in [-2,7]", "[-2, 7]"), ("\\text{(C)}", "C"), ("55^\\circ", "55")]
    completions = [f"<answer>\\boxed{{{prediction}}}</answer>" for _, prediction in pairs]
    assert math_reward(None, completions, [gold for gold, _ in pairs], verifier=verifier) == [1.0] * len(pairs)


def test_math_reward_wrong_and_empty(verifier):
    completions = ["<answer>\\boxed{1/7}</answer>", "\\boxed{\\frac18} <answer>\\boxed{}</answer>",
                   "<answer>\\boxed{...}</answer>"]
    assert math_reward(None, completions, ["\\frac{1}{8}"] * 3, verifier=verifier) == [0.0, 0.0, 0.0]


def test_math_reference_from_worked_solution(verifier):
    solution = "We find $x = 2$, so the answer is $\\boxed{2}$."
    assert math_reward(None, ["<answer>\\boxed{2}</answer>"], [solution], verifier=verifier) == [1.0]


def test_verifier_works_outside_main_thread():
    verdicts = []

    def compare():
        with MathVerifier() as own:
            verdicts.append(own.equal("\\frac{1}{2}", "0.5"))
            verdicts.append(own.equal("\\frac{1}{2}", "0.6"))

    worker = threading.Thread(target=compare)
    worker.start()
    worker.join(timeout=120)
    assert verdicts == [True, False]


def test_rewards_from_many_threads_share_verifier(verifier):
    results = {}

    def score(index):
        results[index] = math_reward(None, [f"\\boxed{{{index}/2}}"], [f"\\frac{{{index}}}{{2}}"], verifier=verifier)

    threads = [threading.Thread(target=score, args=(i,)) for i in range(1, 9)]
    for thread in threads: thread.start()
    for thread in threads: thread.join(timeout=120)
    assert results == {i: [1.0] for i in range(1, 9)}


def test_verifier_timeout_scores_unequal_and_recovers(caplog):
    with MathVerifier(timeout_s=1.0) as slow, caplog.at_level(logging.WARNING, logger="maskgrpo.rewards"):
        slow.equal("1", "1")  # the worker starts outside the timed comparison
        started = time.monotonic()
        assert slow.equal("1", "2^{2^{2^{30}}}") is False
        assert time.monotonic() - started < 10
        assert "no verdict within 1.0 s" in caplog.text
        assert slow.equal("2", "2") is True


def test_verifier_rejects_invalid_timeout():
    with pytest.raises(ValueError, match="timeout_s=0"):
        MathVerifier(timeout_s=0)


def test_countdown_answer_reward():
    completions = ["<answer>\\boxed{49 + 55 - 53}</answer>", "<answer>\\(49 + 55 - 53 = 51\\)</answer>",
                   "<answer>\\boxed{(55 - 53) \\times 49 / 49}</answer>", "<answer>\\boxed{49 + 55 - 53 = 52}</answer>",
                   "<answer>\\boxed{49+55-53} or \\boxed{49 + 2}</answer>", "\\boxed{...}", "49 + 55 - 53"]
    rewards = countdown_answer_reward(None, completions, [[49, 55, 53]] * 7, [51] * 7)
    assert rewards == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_sudoku_answer_reward():
    puzzle, solution = "4320004330100004", "4321124334122134"
    completions = ["<answer>4321124334122134</answer>", "<answer>4321\n1243\n3412\n2134</answer>",
                   "<answer>\n4320004330120004\n</answer>", "</answer>\n4321124334122134", ""]
    rewards = sudoku_answer_reward(None, completions, [puzzle] * 5, [solution] * 5)
    assert rewards == [1.0, 1.0, 0.125, 0.0, 0.0]


def test_format_reward_no_partial_credit():
    completions = ["<reasoning>r</reasoning>\n<answer>a</answer>", "<reasoning>r</reasoning> x <answer>a</answer>",
                   "<reasoning>r</reasoning>", "<answer>a</answer>", "<reasoning>r</reasoning><answer>a<|eot_id|></answer>"]
    assert format_reward(None, completions) == [1.0, 0.0, 0.0, 0.0, 0.0]


def test_format_reward_prompt_opens_reasoning():
    prompts = ["Solve it.\n<reasoning>", "Solve it."]
    completions = ["steps</reasoning>\n<answer>5</answer>"] * 2
    assert format_reward(prompts, completions) == [1.0, 0.0]
