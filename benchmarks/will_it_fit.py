"""Will ResNet-50 train at batch 256 with AdamW in bf16 (fp32 master weights) on a 24 GB card?

Answered twice, side by side: statically by `specc check --memory` (no torch), and by
measuring what torch really holds:
  - activations: the unique storages autograd saves in a bf16 training forward
    (saved_tensors_hooks) — at batch 256 on the meta device (sizes without data, CUDA's
    kernels' rules), and at batch 8 on the CPU (the CPU kernels' rules) to show the count
    is the real one;
  - parameters, gradients, fp32 master weights and AdamW state: one real optimizer step;
  - inference peak: a liveness replay of the forward's aten ops (meta device, batch 256).

Run: PYTHONPATH=. python benchmarks/will_it_fit.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch

import specc
from specc.analyses import measure
from specc.analyses.fit import human_bytes
from specc.analyses.memory import analyse_memory
from specc.compile.build import build_module

SPEC = ROOT / "specs" / "resnet50.yaml"
BATCH, CPU_BATCH, DEVICE = 256, 8, 24 * 10**9  # a "24 GB" card


def main() -> None:
    graph = specc.check(SPEC, dims={"N": BATCH}).graph
    start = time.perf_counter()
    static = analyse_memory(graph, dtype="bfloat16", optimizer="adamw", amp=True)
    static_seconds = time.perf_counter() - start

    meta_model = build_module(graph, device="meta", dtype="bfloat16")
    meta_inputs = measure.example_inputs(graph, {"N": BATCH}, torch.bfloat16, device="meta")
    saved = measure.saved_bytes(meta_model, meta_inputs)
    peak = measure.inference_peak_bytes(meta_model, meta_inputs)
    weights = measure.optimizer_state_bytes(build_module(graph, dtype="bfloat16"), "adamw",
                                            amp=True)
    small = specc.check(SPEC, dims={"N": CPU_BATCH}).graph
    cpu_saved = measure.saved_bytes(build_module(small, dtype="bfloat16"),
                                    measure.example_inputs(small, {"N": CPU_BATCH},
                                                           torch.bfloat16))
    # the CPU's BatchNorm keeps bf16 statistics where CUDA's (and the meta kernels) keep fp32
    small_static = analyse_memory(small, dtype="bfloat16", device="cpu").activations_train_bytes

    rows = [("parameters (bf16)", static.parameters_bytes, weights["parameters_bytes"]),
            ("gradients (bf16)", static.gradients_bytes, weights["gradients_bytes"]),
            ("fp32 master + AdamW state", static.optimizer_bytes, weights["optimizer_bytes"]),
            ("buffers", static.buffers_bytes, weights["buffers_bytes"]),
            ("activations saved for backward", static.activations_train_bytes, saved)]
    measured_train = sum(m for _, _, m in rows)
    rows.append(("training total", static.total_train_bytes, measured_train))
    rows.append(("inference peak activations", static.activations_inference_peak_bytes, peak))
    print(f"ResNet-50, batch {BATCH}, bf16, AdamW with fp32 master weights, 224×224\n")
    print(f"| {'':30} | {'specc (static)':>30} | {'torch (measured)':>30} |")
    print(f"|{'-' * 32}|{'-' * 31}:|{'-' * 31}:|")
    for label, ours, theirs in rows:
        print(f"| {label:30} | {human_bytes(ours):>10} ({ours:>15,} B) | "
              f"{human_bytes(theirs):>10} ({theirs:>15,} B) |")
    verdict = "fits" if static.total_train_bytes <= DEVICE else "does NOT fit"
    print(f"\n24 GB card ({human_bytes(DEVICE)}): {verdict}, "
          f"{human_bytes(DEVICE - static.total_train_bytes)} left for the allocator, cuDNN "
          "workspaces and the backward pass's gradients of activations")
    print(f"static answer in {static_seconds * 1000:.0f} ms; CPU check at batch {CPU_BATCH}: "
          f"specc {small_static:,} B, torch {cpu_saved:,} B saved")


if __name__ == "__main__":
    main()
