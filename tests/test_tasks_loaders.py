"Integration checks of `maskgrpo.tasks`: a light import, and the loaders on the shared public data files."
import subprocess
import sys

import pytest

from maskgrpo.tasks import (REASONING_FORMAT, TASKS, countdown_check, load_countdown, load_geneval, load_gsm8k,
                            load_mbpp, load_sudoku, shared_data_dir, sudoku_solutions)


def test_import_loads_no_heavy_modules():
    code = "import sys, maskgrpo.tasks; print('torch' in sys.modules, 'datasets' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["False", "False"]


def test_builtin_tasks_registered():
    assert sorted(TASKS) == ["countdown", "sudoku"]


@pytest.fixture
def data_dir():
    folder = shared_data_dir()
    if folder is None: pytest.skip("shared/data not found beside the repository")
    return folder


def test_countdown_test_set_solvable(data_dir):
    examples = load_countdown(data_dir / "countdown" / "cd3_test.jsonl")
    assert len(examples) == 256
    for example in examples:
        assert countdown_check(example["answer"], example["numbers"], example["target"]), example


def test_sudoku_test_set_solutions(data_dir):
    examples = load_sudoku(data_dir / "sudoku" / "4x4_test.csv")
    assert len(examples) == 500
    for example in examples:
        assert example["solution"] in sudoku_solutions(example["puzzle"], limit=10), example


def test_reasoning_datasets_row_counts(data_dir):
    assert len(load_gsm8k(data_dir / "gsm8k" / "test.jsonl")) == 1319
    assert len(load_mbpp(data_dir / "mbpp" / "mbpp.jsonl")) == 974
    assert len(load_geneval(data_dir / "geneval" / "evaluation_metadata.jsonl")) == 553


def test_reasoning_prompts_wrap_tasks(data_dir):
    countdown = load_countdown(data_dir / "countdown" / "cd3_test.jsonl", reasoning=True)
    sudoku = load_sudoku(data_dir / "sudoku" / "4x4_test.csv", reasoning=True)
    assert countdown[0]["prompt"].endswith(REASONING_FORMAT)
    assert "30, 100, 93" in countdown[0]["prompt"]
    assert sudoku[0]["puzzle"] in sudoku[0]["prompt"]
    assert sudoku[0]["prompt"].endswith(REASONING_FORMAT)
