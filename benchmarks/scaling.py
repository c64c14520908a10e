"""Do check, render, diff and build take linear time? Issue 14's budget for the passes.

    python3 benchmarks/scaling.py            # 10,000 and 50,000 nodes (a few minutes)
    python3 benchmarks/scaling.py --quick    # 1,000 and 5,000 nodes (the CI smoke run)

One generated spec per size mixes what makes passes quadratic when they are written
carelessly: named nodes and skip connections (`from`), unknown references (each wants a
"did you mean"), softmaxes (lint walks from them), reshapes of symbolic sizes (code
generation reads each size off an earlier tensor) and nested scopes. Each stage is timed at
both sizes; a linear stage has a ratio near the size ratio (5), a quadratic one near 25.
Prints a Markdown table. The tests run --quick and assert nothing about time.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def edited(text: str) -> str:
    """The spec after an edit a reviewer would diff: a Dropout inserted after every 50th
    layer line and every 7th group's first node renamed, references included (diff must
    match by structure and name, not by position)."""
    import re

    def rename(match):
        return f"g{match[1]}r" if int(match[1]) % 7 == 0 else match[0]

    out = []
    for i, line in enumerate(re.sub(r"\bg(\d+)a\b", rename, text).splitlines()):
        out.append(line)
        if i % 50 == 0 and line.lstrip().startswith("- {"):
            out.append(line[:line.index("-")] + "- {op: Dropout, p: 0.2}")
    return "\n".join(out) + "\n"


def spec_text(nodes: int, unknown_refs: bool = False) -> str:
    """About ``nodes`` op nodes in groups of 10 in one flat sequence (the worst case for a
    pass that looks back over everything before a node); every 10th group is a nested
    sequence, so scopes are exercised too."""
    lines = ["name: scaling", "inputs: {x: {shape: [N, T, 16]}}", "layers:"]
    for g in range(nodes // 10):
        p = f"g{g}"
        body = [
            f"{{name: {p}a, op: Linear, out_features: 16}}",
            "{op: LayerNorm}",
            "{op: ReLU}",
            f"{{name: {p}s, op: Softmax, dim: -1}}",
            "{op: reshape, shape: [N, T, 4, 4]}",
            "{op: flatten, start_dim: 2}",
            f"{{op: add, from: [{p}s, {p}a]}}",
            "{op: Dropout, p: 0.1}",
            "{op: GELU}",
            f"{{op: add, from: [{p}a, missing_{g}]}}" if unknown_refs and g % 10 == 5
            else "{op: Linear, out_features: 16}",
        ]
        if g % 10 == 0:
            lines += [f"  - name: s{g}", "    layers:"] + [f"      - {b}" for b in body]
        else:
            lines += [f"  - {b}" for b in body]
    return "\n".join(lines) + "\n"


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def stages(nodes: int) -> dict:
    import specc
    from specc.analysis import analyse
    from specc.errors import Limits

    limits = Limits(max_graph_nodes=2 * nodes)  # containers count as listed layers too
    out = {}
    text = spec_text(nodes)
    out["check"], analysis = timed(lambda: analyse(text, limits=limits))
    assert analysis.ok, [d.format() for d in analysis.diagnostics[:3]]
    bad = spec_text(nodes, unknown_refs=True)
    out["check, 1 in 100 references unknown"], broken = timed(lambda: analyse(bad, limits=limits))
    assert not broken.ok
    from specc.diagram import render_graph

    out["render (DOT)"], _ = timed(lambda: render_graph(analysis).source)
    from specc.diff import diff_graphs

    try:  # diff builds both versions on meta to compare checkpoints: import torch untimed
        import torch  # noqa: F401
    except ImportError:
        pass

    changed = analyse(edited(text), limits=limits)
    assert changed.ok, [d.format() for d in changed.diagnostics[:3]]
    out["diff (inserts, renames)"], report = timed(
        lambda: diff_graphs(analysis.graph, changed.graph))
    from specc.compile.codegen import generate

    out["build: generate Python"], _ = timed(lambda: generate(analysis.graph))
    try:
        import torch  # noqa: F401
    except ImportError:
        return out
    from specc.compile.build import build_module

    out["build: nn.Module on meta"], _ = timed(
        lambda: build_module(analysis.graph, device="meta"))
    del specc
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    small, large = (1_000, 5_000) if args.quick else (10_000, 50_000)
    first, second = stages(small), stages(large)
    print(f"Python {platform.python_version()} on {platform.machine()}, "
          f"{small:,} vs {large:,} nodes\n")
    print(f"| stage | {small:,} nodes (s) | {large:,} nodes (s) | ratio (linear ≈ "
          f"{large // small}) |")
    print("|---|---:|---:|---:|")
    for stage in first:
        ratio = second[stage] / first[stage] if first[stage] else float("nan")
        print(f"| {stage} | {first[stage]:.2f} | {second[stage]:.2f} | {ratio:.1f} |")


if __name__ == "__main__":
    main()
