"Checks that keep the project's generated and duplicated files in step with their sources."
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from make_readme import render_readme  # noqa: E402

LIBRARY_NOTEBOOKS = ["01_models", "02_tasks", "03_rollout", "04_likelihood", "05_objectives", "06_rewards",
                     "07_pretrain", "08_trainer", "09_hf", "10_images"]


def test_readme_matches_index_notebook():
    assert (ROOT / "README.md").read_text() == render_readme(), "README.md is stale: run python tools/make_readme.py"


def test_readme_quickstart_has_two_lines():
    text = (ROOT / "README.md").read_text()
    block = text.split("## Quickstart", 1)[1].split("```", 2)[1]
    lines = [l for l in block.strip().splitlines() if l.strip()]
    assert len(lines) == 2
    assert "papermill nbs/repro/" in lines[0]
    assert "nbdev-test nbs" in lines[1]
    assert "pytest" in lines[1]


def test_library_notebooks_export_modules():
    for name in LIBRARY_NOTEBOOKS:
        nb = ROOT / "nbs" / f"{name}.ipynb"
        assert nb.exists(), f"{nb} is missing"
        module = name.split("_", 1)[1]
        assert (ROOT / "maskgrpo" / f"{module}.py").exists(), f"{name} exports no maskgrpo/{module}.py"


def test_parameters_tag_survives_cleaning():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["nbdev"]
    assert cfg["allowed_cell_metadata_keys"] == ["tags"]
    for nb in (ROOT / "nbs" / "repro").glob("*.ipynb"):
        cells = json.loads(nb.read_text())["cells"]
        assert any("parameters" in c["metadata"].get("tags", []) for c in cells), f"{nb.name} has no parameters cell"


def _names(requirements):
    return {re.split(r"[<>=!~\[ ]", r.strip(), maxsplit=1)[0].lower() for r in requirements}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values(): declared += extra
    env = (ROOT / "environment.yml").read_text()
    pip_lines = [l.strip()[2:] for l in env.split("- pip:", 1)[1].splitlines() if l.strip().startswith("- ")]
    listed = _names(l for l in pip_lines if not l.startswith("-e"))
    assert listed == _names(declared)
