"""Is a module built by specc as fast as a hand-written one?

    python3 benchmarks/build_overhead.py          # full run
    python3 benchmarks/build_overhead.py --quick  # smoke run (CI)

Forward time (CPU, eval, no_grad) of specc-built modules next to equivalent hand-written
modules — a 64-layer width-64 MLP at batch 1 (where Python overhead dominates) and ResNet-18
at batch 1 and 8 — and the construction time of both. Measurements are interleaved
(built, hand-written, built, …) and the medians reported. Target: ratio ≤ 1.03.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import specc  # noqa: E402
from handwritten import DeepMLP, resnet18  # noqa: E402



def mlp_spec(depth: int = 64, width: int = 64) -> str:
    body = "".join(f"      - {{op: Linear, out_features: {width}}}\n      - ReLU\n"
                   for _ in range(depth))
    return f"inputs: {{x: {{shape: [N, {width}]}}}}\nlayers:\n  - name: layers\n    layers:\n{body}"


def time_forward(model, x, iterations: int) -> float:
    with torch.no_grad():
        start = time.perf_counter()
        for _ in range(iterations):
            model(x)
        return (time.perf_counter() - start) / iterations


def compare(built, hand, x, iterations: int, repeats: int):
    with torch.no_grad():
        for _ in range(3):  # warm up both
            built(x)
            hand(x)
    a, b = [], []
    for _ in range(repeats):
        a.append(time_forward(built, x, iterations))
        b.append(time_forward(hand, x, iterations))
    return statistics.median(a), statistics.median(b)


def construction(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 15
    torch.manual_seed(0)
    rows = []

    built_mlp = specc.build(mlp_spec()).eval()
    hand_mlp = DeepMLP(64, 64).eval()
    hand_mlp.load_state_dict(built_mlp.state_dict())  # same names, same weights
    x = torch.randn(1, 64)
    rows.append(("MLP 64×64, batch 1", *compare(built_mlp, hand_mlp, x,
                                                 50 if args.quick else 2000, repeats)))

    built_r18 = specc.build(ROOT / "specs" / "resnet18.yaml").eval()
    hand_r18 = resnet18().eval()
    hand_r18.load_state_dict(built_r18.state_dict())
    for batch in (1, 8):
        size = 64 if args.quick else 224
        x = torch.randn(batch, 3, size, size)
        iterations = 2 if args.quick else (20 if batch == 1 else 5)
        rows.append((f"ResNet-18, batch {batch}", *compare(built_r18, hand_r18, x, iterations,
                                                           repeats)))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| forward (CPU, eval) | specc-built | hand-written | ratio |")
    print("|---|---:|---:|---:|")
    for name, built, hand in rows:
        print(f"| {name} | {built * 1e3:.3f} ms | {hand * 1e3:.3f} ms | {built / hand:.3f} |")
    graph = specc.load(ROOT / "specs" / "resnet18.yaml")
    from specc.compile.build import build_module

    build_r18 = construction(lambda: build_module(graph), max(1, repeats // 3))
    full_r18 = construction(lambda: specc.build(ROOT / "specs" / "resnet18.yaml"),
                            max(1, repeats // 3))
    hand_r18_t = construction(resnet18, max(1, repeats // 3))
    print("\n| construction | time |\n|---|---:|")
    print(f"| ResNet-18 hand-written (`resnet18()`) | {hand_r18_t * 1e3:.1f} ms |")
    print(f"| ResNet-18 from the analysed graph (codegen + construct) | {build_r18 * 1e3:.1f} ms |")
    print(f"| ResNet-18 `specc.build(path)` (load, check, codegen, construct) | "
          f"{full_r18 * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
