"""A 70B spec checks in a blink and builds on meta: specc vs Hugging Face, in one run.

1. Whole-process `specc check specs/llama.yaml --vars CONFIG.json` for Llama-3-70B and for the
   same config cut to 4 layers (size-independence: repeats are inferred once), next to
   `specs/resnet50.yaml`.
2. Meta build of the 70B config, `specc.build(..., device="meta")` (the whole pipeline: parse,
   validate, infer, generate code, construct) vs `transformers.LlamaForCausalLM(config)` under
   `torch.device("meta")` (construction only):
   - cold: a fresh process each, timed from after `import torch` (both need it) to the model,
     each library's own import included — what a user waits for;
   - warm: in one process after a warm-up build of each (the first meta build pays torch's
     lazy imports of torch._refs, about 3 s, whoever builds first), median of N.

    python3 benchmarks/scale.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.check_speed import in_process, median_time  # noqa: E402
LLAMA = os.path.join(ROOT, "specs", "llama.yaml")

# Meta-Llama-3-70B's config.json (the fields the spec declares; HF's names)
LLAMA3_70B = {
    "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
    "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256,
    "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "max_position_embeddings": 8192,
    "tie_word_embeddings": False,
}


def _specc_process(args: list[str], runs: int) -> float:
    return median_time([sys.executable, "-m", "specc", *args], runs, check=True)


_COLD = """
import json, sys, time
import torch
start = time.perf_counter()
config = json.loads(sys.argv[2])
if sys.argv[1] == "specc":
    import specc
    model = specc.build(sys.argv[3], vars=config, device="meta")
else:
    from transformers import LlamaConfig, LlamaForCausalLM
    with torch.device("meta"):
        model = LlamaForCausalLM(LlamaConfig(**config))
print(time.perf_counter() - start)
"""


def _median_cold(which: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _COLD, which, json.dumps(LLAMA3_70B), LLAMA],
                             cwd=ROOT, check=True, capture_output=True, text=True)
        times.append(float(out.stdout.split()[-1]))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one run each (CI smoke test)")
    runs = 1 if parser.parse_args().quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        big, small = os.path.join(tmp, "70b.json"), os.path.join(tmp, "4l.json")
        with open(big, "w") as f:
            json.dump(LLAMA3_70B, f)
        with open(small, "w") as f:
            json.dump({**LLAMA3_70B, "num_hidden_layers": 4}, f)
        t70 = _specc_process(["check", LLAMA, "--vars", big, "--quiet"], runs)
        t4 = _specc_process(["check", LLAMA, "--vars", small, "--quiet"], runs)
        t50 = _specc_process(["check", "specs/resnet50.yaml", "--quiet"], runs)
    print("whole-process `specc check` (median of %d)" % runs)
    print(f"  llama 70B config (80 layers)   {t70 * 1000:7.0f} ms")
    print(f"  llama 70B config cut to 4      {t4 * 1000:7.0f} ms   ratio 80/4 layers: "
          f"{t70 / t4:.2f}")
    print(f"  resnet50                       {t50 * 1000:7.0f} ms")

    cold_hf, cold_ours = _median_cold("hf", runs), _median_cold("specc", runs)
    print(f"meta build of Llama-3-70B, cold (fresh process, after import torch; median of "
          f"{runs})")
    print(f"  transformers LlamaForCausalLM  {cold_hf * 1000:7.0f} ms")
    print(f"  specc.build(device='meta')     {cold_ours * 1000:7.0f} ms   ratio "
          f"{cold_ours / cold_hf:.2f}")

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    import specc

    config = LlamaConfig(**LLAMA3_70B)

    def hf():
        with torch.device("meta"):
            return LlamaForCausalLM(config)

    def ours():
        return specc.build(LLAMA, vars=LLAMA3_70B, device="meta")

    hf(), ours()  # warm-up: torch's lazy imports are paid once, by whoever goes first
    t_hf, t_ours = in_process(hf, runs), in_process(ours, runs)
    n_hf = sum(p.numel() for p in hf().parameters())
    n_ours = sum(p.numel() for p in ours().parameters())
    print(f"meta build of Llama-3-70B, warm (one process, median of {runs})")
    print(f"  transformers LlamaForCausalLM  {t_hf * 1000:7.0f} ms   {n_hf:,} params")
    print(f"  specc.build(device='meta')     {t_ours * 1000:7.0f} ms   {n_ours:,} params")
    print(f"  ratio specc / transformers     {t_ours / t_hf:.2f}")


if __name__ == "__main__":
    main()
