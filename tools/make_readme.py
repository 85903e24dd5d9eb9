"""Write README.md from nbs/index.ipynb: markdown cells as they are, code cells as Python blocks.

nbdev-readme renders through Quarto, which this project does not depend on; this script keeps the same source of
truth. `tests/test_project.py` fails when README.md is out of step with the notebook.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = "<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->\n\n"


def render_readme(notebook: Path = ROOT / "nbs" / "index.ipynb") -> str:
    "Markdown of the index notebook: markdown cells verbatim, code cells fenced, nbdev directives dropped."
    parts = []
    for cell in json.loads(notebook.read_text())["cells"]:
        source = "".join(cell["source"]).strip()
        if cell["cell_type"] == "code":
            lines = [l for l in source.splitlines() if not l.startswith("#|")]
            source = "```python\n" + "\n".join(lines).strip() + "\n```" if any(l.strip() for l in lines) else ""
        if source: parts.append(source)
    return HEADER + "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    target = ROOT / "README.md"
    target.write_text(render_readme())
    print(f"wrote {target}", file=sys.stderr)
