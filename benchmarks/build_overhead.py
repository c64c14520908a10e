"""Is a module built by specc as fast as a hand-written one?

    python3 benchmarks/build_overhead.py          # full run
    python3 benchmarks/build_overhead.py --quick  # smoke run (CI)

Forward time (CPU, eval, no_grad) of specc-built modules next to equivalent hand-written
modules — a 64-layer width-64 MLP at batch 1 (where Python overhead dominates) and ResNet-18
at batch 1 and 8 — and the construction time of both. Measurements are interleaved
call by call (built, hand-written, hand-written, built, …) and the medians of the per-call
times reported. Target: ratio ≤ 1.03.
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


def compare(built, hand, x, calls: int):
    """Median time per call of each model, calls alternating (and which goes first
    alternating too), so drifts in machine load hit both equally."""
    a, b = [], []
    with torch.no_grad():
        for _ in range(3):  # warm up both
            built(x)
            hand(x)
        for i in range(calls):
            order = ((built, a), (hand, b)) if i % 2 == 0 else ((hand, b), (built, a))
            for model, times in order:
                start = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def construction(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired(make_built, make_hand, x, calls: int, pairs: int):
    """Median over `pairs` freshly constructed (built, hand-written) pairs of the per-call
    medians. Fresh pairs matter: where the allocator happens to place a model's weights moves
    a CPU convolution's speed by ±15% (the A/A row shows it), for either kind of model."""
    built_times, hand_times, ratios = [], [], []
    for _ in range(pairs):
        built, hand = make_built(), make_hand()
        hand.load_state_dict(built.state_dict())  # same names, same weights
        b, h = compare(built.eval(), hand.eval(), x, calls)
        built_times.append(b)
        hand_times.append(h)
        ratios.append(b / h)
    return statistics.median(built_times), statistics.median(hand_times), statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    pairs = 1 if args.quick else 5
    torch.manual_seed(0)
    rows = []
    mlp = mlp_spec()
    x = torch.randn(1, 64)
    rows.append(("MLP 64×64, batch 1", *paired(lambda: specc.build(mlp), lambda: DeepMLP(64, 64),
                                                x, 50 if args.quick else 2000, pairs)))
    r18 = ROOT / "specs" / "resnet18.yaml"
    for batch in (1, 8):
        x = torch.randn(batch, 3, 224, 224)  # the spec's declared size: built models check it
        calls = 2 if args.quick else (40 if batch == 1 else 12)
        rows.append((f"ResNet-18, batch {batch}", *paired(lambda: specc.build(r18), resnet18,
                                                          x, calls, pairs)))
    x = torch.randn(1, 3, 224, 224)
    rows.append(("A/A: ResNet-18 hand-written vs hand-written, batch 1",
                 *paired(resnet18, resnet18, x, 2 if args.quick else 40, pairs)))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {pairs} "
          "fresh pairs\n")
    print("| forward (CPU, eval) | specc-built | hand-written | ratio |")
    print("|---|---:|---:|---:|")
    for name, built, hand, ratio in rows:
        print(f"| {name} | {built * 1e3:.3f} ms | {hand * 1e3:.3f} ms | {ratio:.3f} |")
    graph = specc.load(r18)
    from specc.compile.build import build_module

    repeats = 1 if args.quick else 5
    build_r18 = construction(lambda: build_module(graph), repeats)
    full_r18 = construction(lambda: specc.build(r18), repeats)
    hand_r18_t = construction(resnet18, repeats)
    print("\n| construction | time |\n|---|---:|")
    print(f"| ResNet-18 hand-written (`resnet18()`) | {hand_r18_t * 1e3:.1f} ms |")
    print(f"| ResNet-18 from the analysed graph (codegen + construct) | {build_r18 * 1e3:.1f} ms |")
    print(f"| ResNet-18 `specc.build(path)` (load, check, codegen, construct) | "
          f"{full_r18 * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
