"""The code sandbox of `maskgrpo.rewards`: MBPP's reference solutions pass, and hostile programs score 0 within the
timeout, leaving no process and no file behind."""
import json
import os
import secrets
import socket
import threading
import time
from pathlib import Path

import pytest

from maskgrpo.rewards import code_reward, run_python_sandboxed, run_python_tests, sandbox_isolation, score_file
from maskgrpo.tasks import load_mbpp, shared_data_dir

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 3.0
SLACK_S = 8.0  # interpreter start, the kill, and the wait until the kernel has reaped every process of the group

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="the code sandbox needs a POSIX system")


@pytest.fixture(scope="module")
def isolation():
    return sandbox_isolation()


@pytest.fixture(scope="module")
def mbpp_path():
    data = shared_data_dir()
    if data is None: pytest.skip("../shared/data is absent, so MBPP is not available")
    return data / "mbpp" / "mbpp.jsonl"


def processes_of_session(session_id):
    "Process ids whose session or process group is `session_id`, read from /proc."
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit(): continue
        try: fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError: continue
        if session_id in (int(fields[2]), int(fields[3])): found.append(int(entry.name))
    return found


def processes_of_uid(uid):
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit(): continue
        try: status = (entry / "status").read_text()
        except OSError: continue
        for line in status.splitlines():
            if line.startswith("Uid:") and int(line.split()[1]) == uid: found.append(int(entry.name))
    return found


def read_cmdline(process_dir):
    try: return (process_dir / "cmdline").read_bytes()
    except OSError: return b""


def run_hostile(code, isolation, tests=("assert True",)):
    "Run `code`, check it scores 0 in time and leaves no process of its session or user; return the result."
    uid = isolation["runs_as_uid"]
    before = set(processes_of_uid(uid)) if uid is not None else set()
    started = time.monotonic()
    result = run_python_sandboxed(code, list(tests), timeout_s=TIMEOUT_S)
    elapsed = time.monotonic() - started
    assert result.score == 0.0, result
    assert elapsed < TIMEOUT_S + SLACK_S, elapsed
    if Path("/proc").is_dir():
        assert processes_of_session(result.pid) == []
        if uid is not None: assert set(processes_of_uid(uid)) <= before
    return result


def test_mbpp_reference_solutions_pass(mbpp_path):
    failures = json.loads((ROOT / "data" / "fixtures" / "mbpp_reference_failures.json").read_text())
    rows = load_mbpp(mbpp_path)
    figures = score_file("mbpp", mbpp_path)
    assert figures["n"] == len(rows) == failures["n"] == 974
    assert figures["correct"] == failures["passed"] == 974 - len(failures["failures"])


def test_mutated_solution_fails(mbpp_path):
    row = next(r for r in load_mbpp(mbpp_path) if r["task_id"] == 2)
    assert run_python_tests(row["code"], row["test_list"], row["test_setup_code"]) == 1.0
    mutated = row["code"].replace("&", "|")
    assert mutated != row["code"]
    assert run_python_tests(mutated, row["test_list"], row["test_setup_code"]) < 1.0


def test_partial_credit_per_assertion():
    result = run_python_sandboxed("def add(a, b):\n    return a + b if a else 0",
                                  ["assert add(1, 2) == 3", "assert add(0, 2) == 2", "assert add(2, 2) == 4"])
    assert result.passed == [True, False, True]
    assert result.score == pytest.approx(2 / 3)


def test_syntax_error_scores_zero():
    result = run_python_sandboxed("def f(:\n    return 1", ["assert True"])
    assert result.score == 0.0
    assert result.error.startswith("SyntaxError")


def test_infinite_loop(isolation):
    result = run_hostile("while True:\n    pass", isolation)
    assert result.timed_out


def test_sleeping_program(isolation):
    assert run_hostile("import time\ntime.sleep(60)", isolation).timed_out


def test_fork_bomb(isolation):
    run_hostile("import os\nwhile True:\n    os.fork()", isolation)


def test_fork_bomb_that_ignores_errors(isolation):
    run_hostile("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", isolation)


def test_memory_bomb(isolation):
    result = run_hostile("blocks = []\nwhile True:\n    blocks.append(bytearray(10 ** 7))", isolation)
    assert result.error.startswith("MemoryError")


def test_deep_recursion(isolation):
    run_hostile("import sys\nsys.setrecursionlimit(10 ** 7)\ndef f(n):\n    return f(n + 1)\nf(0)", isolation)


def test_delete_outside_working_directory(isolation, tmp_path):
    if isolation["runs_as_uid"] is None:
        pytest.skip("the program runs as the calling user here, so it may delete that user's files")
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("keep")
    escape = Path("/tmp") / f"maskgrpo-escape-{secrets.token_hex(8)}"
    code = (f"import os, shutil\nopen({str(escape)!r}, 'w').write('x')\n"
            f"shutil.rmtree({str(tmp_path)!r}, ignore_errors=True)\nos.remove({str(sentinel)!r})")
    run_hostile(code, isolation)
    assert sentinel.read_text() == "keep"
    assert not escape.exists()


def test_file_left_in_temp_folder_vanishes(isolation):
    if not isolation["private_temp_dirs"]:
        pytest.skip("private temporary folders need a mount namespace, which this machine does not allow")
    escape = Path("/tmp") / f"maskgrpo-escape-{secrets.token_hex(8)}"
    result = run_python_sandboxed(f"open({str(escape)!r}, 'w').write('x')", ["assert True"])
    assert result.score == 1.0  # writing there is allowed, but the file lives in the program's own /tmp
    assert not escape.exists()


def test_environment_not_inherited(isolation):
    name, value = "MASKGRPO_PROBE_" + secrets.token_hex(4).upper(), secrets.token_hex(16)
    os.environ[name] = value
    try:
        result = run_hostile("import os\nprint(dict(os.environ))\nassert False", isolation)
    finally:
        del os.environ[name]
    assert "PATH" in result.stdout
    assert name not in result.stdout
    assert value not in result.stdout


def test_no_network(isolation):
    if not isolation["namespaces"]:
        pytest.skip("no network namespace on this machine")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)"
        result = run_hostile(code, isolation)
    assert "Error" in result.error


def test_process_that_leaves_its_group_is_killed(isolation):
    if not isolation["namespaces"]:
        pytest.skip("without a PID namespace a process that calls setsid() outlives the kill")
    marker = f"maskgrpo-escapee-{secrets.token_hex(6)}"
    code = (f"import os\nif os.fork() == 0:\n    os.setsid()\n"
            f"    os.execv('/bin/sh', ['sh', '-c', 'sleep 60', {marker!r}])\nassert False")
    run_hostile(code, isolation)
    time.sleep(0.5)
    leftover = [p for p in Path("/proc").iterdir() if p.name.isdigit() and marker.encode() in read_cmdline(p)]
    assert leftover == []


def test_forged_result_rejected(isolation):
    fake = json.dumps({"nonce": "0" * 32, "passed": [True], "error": None})
    code = f"import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, {fake!r}.encode())\n    except OSError:\n        pass"
    run_hostile(code, isolation, tests=["assert False"])


def test_exit_before_tests_scores_zero(isolation):
    assert run_hostile("import os\nos._exit(0)", isolation).error == "no result"


def test_code_reward_parallel():
    completions = ["<answer>\n```python\ndef add(a, b):\n    return a + b\n```\n</answer><|eot_id|>",
                   "```python\ndef add(a, b):\n    return a - b\n```", "```python\nwhile True:\n    pass\n```",
                   "def add(a, b): return b + a"]
    tests = [["assert add(1, 2) == 3", "assert add(0, 0) == 0"]] * 4
    assert code_reward(None, completions, tests, max_workers=4, timeout_s=TIMEOUT_S) == [1.0, 0.5, 0.0, 1.0]


def test_code_reward_from_worker_thread():
    results = []
    worker = threading.Thread(target=lambda: results.append(code_reward(None, ["x = 2"], [["assert x == 2"]])))
    worker.start()
    worker.join(timeout=60)
    assert results == [[1.0]]
