"""`maskgrpo.rewards.score_file` on real LLaDA-8B-Instruct completions, and its errors on bad input.

The figures are pinned to what our rewards measure and compared with those the d1 evaluation parsers report for the
same completions. The `d1_*` helpers below re-implement the rules of those parsers, and on these files they reproduce
the reported figures exactly. So every completion where our reward differs from them can be listed, with a reason, in
`data/fixtures/<task>_disagreements.jsonl`, and the tests check that those lists are complete and still true.
"""
import json
import re
from pathlib import Path

import pytest

from maskgrpo.rewards import MathVerifier, extract_final_answer, read_generations, score_file, score_generations
from maskgrpo.tasks import shared_data_dir

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "data" / "fixtures"
REFERENCE = json.loads((ROOT / "data" / "reference_accuracies.json").read_text())


@pytest.fixture(scope="module")
def generations_dir():
    data = shared_data_dir()
    if data is None: pytest.skip("../shared/data is absent, so the LLaDA completions are not available")
    return data / "llada_generations"


@pytest.fixture(scope="module")
def verifier():
    with MathVerifier() as shared:
        yield shared


def fixture_rows(name):
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


# Rules of the d1 evaluation parsers, re-implemented.

def d1_gsm8k_value(completion):
    "The first box that reads as a number (else its first number), else the answer block as a number or its last one."
    for content in re.findall(r"\\boxed{(.*?)}", completion):
        content = content.strip()
        if not content or re.fullmatch(r"\.+", content): continue
        try: return float(content)
        except ValueError: pass
        numbers = re.findall(r"-?\d+\.?\d*", content)
        if numbers: return float(numbers[0])
    block = re.search(r"<answer>(.*?)</answer>", completion, re.DOTALL)
    text = block.group(1).strip() if block else ""
    if not text: return None
    try: return float(text)
    except ValueError: pass
    numbers = re.findall(r"-?\d+\.?\d*", text)
    return float(numbers[-1]) if numbers else None


def d1_countdown_expression(completion):
    "The first answer block (else the whole text), its first box if any, LaTeX operators replaced, cut at '='."
    block = re.search(r"<answer>(.*?)</answer>", completion, re.DOTALL)
    expression = block.group(1).strip() if block else completion
    expression = expression.replace("\\div", "/").replace("\\times", "*").replace("\\cdot", "*")
    box = re.search(r"\\boxed{(.*?)}", expression)
    if box: expression = box.group(1)
    return expression.split("=")[0].strip() if "=" in expression else expression


def d1_countdown_correct(completion, numbers, target):
    expression = d1_countdown_expression(completion)
    if sorted(int(n) for n in re.findall(r"\d+", expression)) != sorted(numbers): return False
    if not re.fullmatch(r"[\d+\-*/().\s]+", expression): return False
    try: value = eval(expression, {"__builtins__": None}, {})  # only digits, operators and parentheses reach here
    except Exception: return False
    return abs(value - target) < 1e-5


D1_SUDOKU_PATTERNS = [r"<answer>.*?```\s*([\d\s]+)```", r"<answer>(.*?)(?:<\|eot_id\|>|<\|endoftext\|>|</answer>)",
                      r"</answer>\s*(.*?)(?:<\|eot_id\|>|<\|endoftext\|>|$)", r".*?(\d{16})\s*</answer>", r"\b(\d{16})\b"]


def d1_sudoku_accuracy(completion, puzzle, solution):
    "Characters (whitespace removed) of the first pattern that matches, compared cell by cell on the blanks."
    answer = ""
    for pattern in D1_SUDOKU_PATTERNS:
        match = re.search(pattern, completion, re.DOTALL)
        if match and match.group(1).strip():
            answer = match.group(1).strip()
            break
    answer = re.sub(r"\s", "", answer)
    blanks = [i for i in range(16) if puzzle[i] == "0"]
    if not answer: return 0.0
    answer = (answer + "0" * 16)[:16]
    return sum(answer[i] == solution[i] for i in blanks) / len(blanks)


def plain_normalise(answer):
    "String form for a plain comparison: no spaces, \\left, \\right, \\!, dollar signs, text units or trailing .0."
    text = answer
    for token in ("\\left", "\\right", "\\!", "\\$", "$"): text = text.replace(token, "")
    text = re.sub(r"\\(?:text|mbox)\{[^{}]*\}", "", text)
    text = re.sub(r"\s+", "", text)
    return re.sub(r"\.0+$", "", text)


# Figures on the real completions.

@pytest.mark.parametrize("task, correct, n", [("gsm8k", 873, 1130), ("math500", 178, 500), ("countdown", 49, 256),
                                              ("sudoku", 16.125, 256)])
def test_score_file_pinned_figures(generations_dir, verifier, task, correct, n):
    figures = score_file(task, generations_dir, verifier=verifier)
    assert figures["n"] == n
    assert figures["correct"] == correct
    assert figures["accuracy"] == pytest.approx(correct / n)


@pytest.mark.parametrize("task", ["gsm8k", "countdown", "sudoku"])
def test_within_one_point_of_d1(generations_dir, verifier, task):
    ours = 100 * score_file(task, generations_dir, verifier=verifier)["accuracy"]
    assert abs(ours - REFERENCE["accuracy_percent"][task]) < 1.0


def test_math500_above_d1(generations_dir, verifier):
    ours = 100 * score_file("math500", generations_dir, verifier=verifier)["accuracy"]
    assert REFERENCE["accuracy_percent"]["math500"] < ours < REFERENCE["accuracy_percent"]["math500"] + 5


def test_single_file_scores(generations_dir):
    figures = score_file("countdown", generations_dir / "countdown_instruct_256_128_0_generations.json")
    assert figures["n"] == 37


# The d1 rules reproduce the reported figures, and every disagreement is listed.

def test_d1_rules_reproduce_reported_figures(generations_dir):
    counts = REFERENCE["counts"]
    gsm8k = read_generations("gsm8k", generations_dir)
    assert sum(d1_gsm8k_value(r["completion"]) == r["answer"] for r in gsm8k if r["answer"] is not None) == counts["gsm8k"]["correct"]
    countdown = read_generations("countdown", generations_dir)
    assert sum(d1_countdown_correct(r["completion"], r["numbers"], r["target"]) for r in countdown) == counts["countdown"]["correct"]
    sudoku = read_generations("sudoku", generations_dir)
    cells = sum(8 * d1_sudoku_accuracy(r["completion"], r["puzzle"], r["solution"]) for r in sudoku)
    assert all(r["puzzle"].count("0") == 8 for r in sudoku)
    assert round(cells) == counts["sudoku"]["correct_cells"]


def listed_disagreements(name, rows, ours, theirs):
    listed = {row["index"]: row for row in fixture_rows(name)}
    differing = {i for i, (a, b) in enumerate(zip(ours, theirs)) if abs(a - b) > 1e-9}
    assert set(listed) == differing
    for index, row in listed.items():
        assert row["where"] == rows[index]["where"].split("/")[-1]
        assert row["reward"] == ours[index]
        assert row["reason"]
    return listed


def test_gsm8k_disagreements_listed(generations_dir, verifier):
    rows = read_generations("gsm8k", generations_dir)
    ours = score_generations("gsm8k", rows, verifier=verifier)
    theirs = [float(r["answer"] is not None and d1_gsm8k_value(r["completion"]) == r["answer"]) for r in rows]
    listed = listed_disagreements("gsm8k_disagreements.jsonl", rows, ours, theirs)
    assert len(listed) == 20
    assert listed[934]["final_answer"] == ""  # an empty final box scores 0 although 32 follows it


def test_countdown_disagreements_listed(generations_dir):
    rows = read_generations("countdown", generations_dir)
    ours = score_generations("countdown", rows)
    theirs = [float(d1_countdown_correct(r["completion"], r["numbers"], r["target"])) for r in rows]
    assert len(listed_disagreements("countdown_disagreements.jsonl", rows, ours, theirs)) == 1


def test_sudoku_disagreements_listed(generations_dir):
    rows = read_generations("sudoku", generations_dir)
    ours = score_generations("sudoku", rows)
    theirs = [d1_sudoku_accuracy(r["completion"], r["puzzle"], r["solution"]) for r in rows]
    assert len(listed_disagreements("sudoku_disagreements.jsonl", rows, ours, theirs)) == 5


def test_math500_disagreements_listed(generations_dir, verifier):
    rows = read_generations("math500", generations_dir)
    ours = score_generations("math500", rows, verifier=verifier)
    finals = [extract_final_answer(r["completion"]) for r in rows]
    plain = [float(f is not None and plain_normalise(f) != "" and plain_normalise(f) == plain_normalise(r["answer"]))
             for f, r in zip(finals, rows)]
    listed = listed_disagreements("math500_disagreements.jsonl", rows, ours, plain)
    assert len(listed) == 24
    assert all(row["reward"] == 1.0 and row["string_match"] == 0.0 for row in listed.values())
    assert all(row["final_answer"] == finals[index] for index, row in listed.items())


def test_empty_and_ellipsis_final_boxes_score_zero(generations_dir, verifier):
    for task in ("gsm8k", "math500", "countdown"):
        rows = read_generations(task, generations_dir)
        traps = [r for r in rows if extract_final_answer(r["completion"]) in ("", "...")]
        assert traps, task
        assert score_generations(task, traps, verifier=verifier) == [0.0] * len(traps)


def test_missing_reference_counts_as_wrong(generations_dir, verifier):
    rows = [r for r in read_generations("gsm8k", generations_dir) if r["answer"] is None]
    assert len(rows) == 2
    assert score_generations("gsm8k", rows, verifier=verifier) == [0.0, 0.0]


# Errors on bad input.

def write_generations(path, rows):
    path.write_text(json.dumps({"generations": rows}))
    return path


def test_unknown_task_lists_tasks(tmp_path):
    with pytest.raises(ValueError, match="gsm8k, math500, countdown, sudoku, mbpp"):
        score_file("gsm8", tmp_path)


def test_missing_file_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.json"):
        score_file("gsm8k", tmp_path / "nothing.json")
    with pytest.raises(FileNotFoundError, match="gsm8k_\\*generations.json"):
        score_file("gsm8k", tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        score_file("mbpp", tmp_path / "missing.jsonl")


@pytest.mark.parametrize("task, row, message", [
    ("gsm8k", {"question": "q", "generations": "a", "ground_truth": "many"}, "field 'ground_truth'"),
    ("gsm8k", {"question": "q", "generations": 5, "ground_truth": 1.0}, "field 'generations'"),
    ("gsm8k", {"question": "q", "generations": "a"}, "missing field 'ground_truth'"),
    ("countdown", {"question": "q", "generations": "a", "ground_truth": [[1, 2], "3"]}, "expected [numbers, target]"),
    ("sudoku", {"question": "no puzzle", "generations": "a", "ground_truth": "4321124334122134"}, "16-digit puzzle"),
    ("sudoku", {"question": "puzzle: 4320004330100004", "generations": "a", "ground_truth": "43"}, "16 digits"),
])
def test_malformed_row_named(tmp_path, task, row, message):
    good = {"gsm8k": {"question": "q", "generations": "\\boxed{1}", "ground_truth": 1.0},
            "countdown": {"question": "q", "generations": "a", "ground_truth": [[1, 2], 3]},
            "sudoku": {"question": "puzzle: 4320004330100004", "generations": "a", "ground_truth": "4321124334122134"}}
    path = write_generations(tmp_path / f"{task}_x_generations.json", [good[task], row])
    with pytest.raises(ValueError, match=re.escape(f"{task}_x_generations.json, generations[1]")) as error:
        score_file(task, path)
    assert message in str(error.value)


def test_invalid_json_named(tmp_path):
    path = tmp_path / "gsm8k_bad_generations.json"
    path.write_text('{"generations": [')
    with pytest.raises(ValueError, match="gsm8k_bad_generations.json: invalid JSON"):
        score_file("gsm8k", path)
    path.write_text('[1, 2]')
    with pytest.raises(ValueError, match="'generations' list"):
        score_file("gsm8k", path)


def test_malformed_mbpp_line_named(tmp_path):
    path = tmp_path / "tasks.jsonl"
    good = {"text": "t", "code": "def f():\n    return 1", "test_list": ["assert f() == 1"], "test_setup_code": "",
            "task_id": 1}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "test_list": "assert True"}) + "\n")
    with pytest.raises(ValueError, match="tasks.jsonl, line 2"):
        score_file("mbpp", path)
    path.write_text(json.dumps(good) + "\n")
    assert score_file("mbpp", path) == {"accuracy": 1.0, "n": 1, "correct": 1.0}
