"""Regenerate specs/README.md (the index) and the thumbnails in docs/images/thumbs/.

    python3 specs/make_index.py

Needs Graphviz's `dot`; does not need torch.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import specc  # noqa: E402
from specc.infer import totals  # noqa: E402
from specc.report.summary import count_text  # noqa: E402

THUMBS = ROOT / "docs" / "images" / "thumbs"


def describe(path: Path) -> str:
    """The first sentence of the spec's header comment."""
    lines = [line[2:].strip() for line in path.read_text().splitlines()[2:]
             if line.startswith("# ")]
    text = " ".join(lines)
    return text.split(". ")[0].rstrip(".") + "."


def fmt_macs(value) -> str:
    if isinstance(value, int):
        return f"{value / 1e9:.3f} G" if value >= 1e8 else f"{value / 1e6:.2f} M"
    return f"`{count_text(value)}`"  # symbolic: as the table prints it


def main() -> None:
    THUMBS.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in sorted(HERE.glob("*.yaml")):
        analysis = specc.check(path)
        graph = analysis.graph
        numbers = totals(graph)
        dot = specc.render(path, depth=1, shapes=False)
        dot.attr(size="3,6")
        (THUMBS / f"{path.stem}.svg").write_bytes(dot.pipe(format="svg"))
        outputs = ", ".join(f"`{ref.type}`" for _, ref in graph.outputs)
        rows.append(f"| [{path.stem}]({path.name}) | {describe(path)} | {numbers['params']:,} | "
                    f"{fmt_macs(numbers['macs'])} | {outputs} | "
                    f"<img src=\"../docs/images/thumbs/{path.stem}.svg\" width=\"90\"> |")
    text = ["# The spec library", "",
            "Every model here checks clean (`specc check specs/`), builds to exactly the module "
            "torch would build (tests/test_specs.py), and — for the torchvision models — matches "
            "torchvision's parameter counts, MACs and `state_dict` keys.", "",
            "MACs are per sample (batch bound to 1); symbolic sizes stay symbolic. "
            "Regenerate this page with `python3 specs/make_index.py`.", "",
            "| spec | what it is | params | MACs | output | diagram |",
            "|---|---|---:|---:|---|---|", *rows, ""]
    (HERE / "README.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
