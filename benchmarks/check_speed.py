"""How fast is `specc check`, next to what users would otherwise run?

    python3 benchmarks/check_speed.py            # the full run (a few minutes on 2 cores)
    python3 benchmarks/check_speed.py --quick    # a smoke run with tiny sizes (used in CI)

1. whole process: `specc check specs/resnet50.yaml` vs the floor (a `python -c` that only
   parses the same file with libyaml; the ratio is the startup overhead, aimed at ≤ 2×) and
   vs a process that imports torch, builds the same ResNet-50 by hand and summarises it
   with torchinfo;
2. in process: specc's analysis (load → validate → expand → infer → lint) vs the
   torchinfo.summary call alone;
3. scaling: generated specs of 10 … 10 000 layers (a deep MLP, and a deep ResNet-like stack of
   blocks with skips) — time and peak memory of the analysis;
4. `specc render specs/resnet50.yaml -o out.svg`;
5. where a whole `specc check` of ResNet-50 spends its CPU time: the interpreter, the floor's
   yaml, the imports beyond the floor's by part (`-X importtime` self times, least of several
   runs, so a little inflated), and the analysis stages on the first call in a process.
Prints Markdown tables (medians) with the machine it ran on.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))


_PARSE_FLOOR = ("import sys, yaml\n"
                "with open(sys.argv[1], 'rb') as f:\n"
                "    yaml.load(f, Loader=yaml.CSafeLoader)\n")


# Processes are timed as an installed specc runs: with its bytecode cached. Under
# PYTHONDONTWRITEBYTECODE (set in some shells and CI) every run would compile specc's ~130
# modules from source again, ~3x the start-up of an install.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def median_time(command: list[str], runs: int, check: bool = False) -> float:
    """Median wall time of a whole process; ``check``: a failing command is an error (off
    for commands whose findings exit 1)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=check, env=_ENV)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def in_process(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# The pipeline of specc.analysis.analyse_document, stage by stage, on the first call in a
# fresh process (after the imports): process CPU time of each.
_STAGES = """
import json, os, sys, time
sys.path.insert(0, {root!r})
clock = time.process_time
from specc.cli.check import run  # noqa: F401  (the command's own imports, as it runs)
import specc.analysis, specc.config, specc.files, specc.plugin_loading, specc.vars  # noqa: F401
from specc.errors import Limits
from specc.loader import load_yaml_counted
from specc.schema import validate
from specc.expand import expand
from specc.infer import infer
from specc.tie import resolve_ties
from specc.initializers import check_inits
from specc.lint import run_lints
import specc.lint.rules  # noqa: F401  (the rules, imported by the first run_lints)
data = open({path!r}, "rb").read()
times = {{}}
start = clock(); doc, _ = load_yaml_counted(data, Limits()); times["load (located YAML)"] = clock() - start
start = clock(); validate(doc); times["validate (schema)"] = clock() - start
start = clock(); graph, _ = expand(doc, None, Limits()); times["expand"] = clock() - start
start = clock(); infer(graph, Limits()); times["infer"] = clock() - start
start = clock(); resolve_ties(graph); check_inits(graph); times["tie, init checks"] = clock() - start
start = clock(); run_lints(graph, [], data.decode().splitlines()); times["lint"] = clock() - start
print(json.dumps({{"stages": times}}))
sys.stdout.flush()
os._exit(0)
"""


def _import_self_times(command: list[str], runs: int) -> dict:
    """module -> (least self time in seconds over runs, the outermost module outside specc
    that imported it, or itself), from -X importtime."""
    least: dict = {}
    for _ in range(runs):
        err = subprocess.run([sys.executable, "-X", "importtime", *command], cwd=ROOT,
                             capture_output=True, text=True, env=_ENV).stderr
        stack: list = []  # (depth, module) of the enclosing imports
        rows = []
        for line in err.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            own, _, name = line[len("import time:"):].split("|")
            depth = (len(name) - len(name.lstrip())) // 2
            rows.append((depth, name.strip(), int(own) / 1e6))
        # importtime prints a module after what it imported: walk backwards for parents
        for depth, name, own in reversed(rows):
            while stack and stack[-1][0] >= depth:
                stack.pop()
            outer = next((m for _, m in stack if not m.startswith("specc")), name)
            stack.append((depth, name))
            previous = least.get(name)
            least[name] = (own if previous is None else min(previous[0], own), outer)
    return least


def _part(module: str, outer: str) -> str:
    """The row a module's import time goes to: specc's packages and modules by name,
    anything else by the outermost non-specc module that pulled it in."""
    if module.startswith("specc."):
        return ".".join(module.split(".")[:2])
    if module == "specc":
        return "specc (package)"
    return f"stdlib/3rd-party: {outer.split('.')[0]}"


def breakdown(runs: int) -> dict:
    """Where a whole `specc check -q` of ResNet-50 spends its CPU time (see the docstring)."""
    import resource

    def cpu(command: list[str]) -> float:
        times = []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=_ENV)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        return statistics.median(times)

    spec = "specs/resnet50.yaml"
    check = ["-m", "specc", "check", spec, "-q"]
    result = {"interpreter_s": cpu([sys.executable, "-c", "pass"]),
              "floor_s": cpu([sys.executable, "-c", _PARSE_FLOOR, spec]),
              "check_s": cpu([sys.executable, *check])}
    floor_modules = _import_self_times(["-c", _PARSE_FLOOR, spec], 1)
    parts: dict = {}
    for module, (own, outer) in _import_self_times(check, max(3, runs // 2)).items():
        if module not in floor_modules:
            key = _part(module, outer)
            parts[key] = parts.get(key, 0.0) + own
    result["imports"] = dict(sorted(parts.items(), key=lambda kv: -kv[1]))
    out = subprocess.run([sys.executable, "-c", _STAGES.format(root=str(ROOT), path=spec)],
                         cwd=ROOT, capture_output=True, text=True, env=_ENV)
    result.update(json.loads(out.stdout))
    return result


def deep_mlp(layers: int) -> str:
    lines = ["inputs: {x: {shape: [N, 64]}}", "layers:"]
    for i in range(layers):
        lines.append("  - {op: Linear, out_features: 64}" if i % 2 == 0 else "  - ReLU")
    return "\n".join(lines) + "\n"


def deep_resnet(layers: int) -> str:
    """Blocks of 5 nodes (conv, bn, relu, conv, add-skip) repeated to about `layers` nodes."""
    blocks = max(layers // 5, 1)
    return f"""inputs: {{x: {{shape: [N, 16, 32, 32]}}}}
blocks:
  Res:
    layers:
      - {{op: Conv2d, out_channels: 16, kernel_size: 3, padding: 1, bias: false}}
      - {{op: BatchNorm2d}}
      - {{op: ReLU}}
      - {{name: conv, op: Conv2d, out_channels: 16, kernel_size: 3, padding: 1}}
      - {{op: add, from: [conv, x]}}
layers:
  - {{name: body, block: Res, repeat: {blocks}}}
"""


_MEASURE = """
import json, sys, time, tracemalloc
sys.path.insert(0, {root!r})
import specc
from specc.analysis import analyse
data = open({path!r}, "rb").read()
analyse(b"inputs: {{x: {{shape: [1]}}}}\\nlayers: [Identity]\\n")  # imports, schema
start = time.perf_counter()
analysis = analyse(data)
elapsed = time.perf_counter() - start
tracemalloc.start()
analyse(data)
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({{"ok": analysis.ok, "nodes": len(analysis.graph.nodes), "seconds": elapsed,
                  "peak_mib": peak / 2**20}}))
"""


def scaling(sizes, runs: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, make in (("deep MLP", deep_mlp), ("ResNet-like", deep_resnet)):
            for size in sizes:
                path = os.path.join(tmp, f"{kind[:4]}_{size}.yaml")
                Path(path).write_text(make(size))
                wall = median_time([sys.executable, "-m", "specc", "check", path, "-q"], runs)
                out = subprocess.run([sys.executable, "-c",
                                      _MEASURE.format(root=str(ROOT), path=path)],
                                     capture_output=True, text=True, cwd=ROOT)
                data = json.loads(out.stdout)
                rows.append({"kind": kind, "layers": size, "nodes": data["nodes"],
                             "process_s": wall, "analysis_s": data["seconds"],
                             "peak_mib": data["peak_mib"], "ok": data["ok"]})
    return rows


def torchinfo_available() -> bool:
    try:
        import torch  # noqa: F401
        import torchinfo  # noqa: F401
    except ImportError:
        return False
    return True


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run (CI smoke)")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 9)
    sizes = [10, 100] if args.quick else [10, 100, 1000, 10000]
    results: dict = {"machine": machine()}

    specc_cmd = [sys.executable, "-m", "specc", "check", "specs/resnet50.yaml", "-q"]
    # the floor: a Python process that only parses the same file with libyaml. Alternate
    # the two and compare in one run (issue 12 aims at ≤ 2×).
    floor_cmd = [sys.executable, "-c", _PARSE_FLOOR, "specs/resnet50.yaml"]
    floor, whole = [], []
    median_time(specc_cmd, 1)  # writes the bytecode caches, as installing would
    for _ in range(max(runs, 5)):
        floor.append(median_time(floor_cmd, 1))
        whole.append(median_time(specc_cmd, 1))
    results["parse_floor_s"] = statistics.median(floor)
    results["specc_process_s"] = statistics.median(whole)
    have_torch = torchinfo_available()
    if have_torch:
        torch_cmd = [sys.executable, str(HERE / "torchinfo_resnet50.py")]
        results["torchinfo_process_s"] = median_time(torch_cmd, max(1, runs // 2) if not
                                                     args.quick else 1)

    import specc
    from specc.analysis import analyse

    data = (ROOT / "specs" / "resnet50.yaml").read_bytes()
    analyse(data)  # warm: imports and the schema are loaded once per process
    results["specc_analysis_s"] = in_process(lambda: analyse(data), runs * 3)
    if have_torch:
        import torchinfo

        from handwritten import resnet50

        model = resnet50()
        torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)
        results["torchinfo_summary_s"] = in_process(
            lambda: torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0),
            max(1, runs // 3))

    results["scaling"] = scaling(sizes, max(1, runs // 3))
    with tempfile.TemporaryDirectory() as tmp:
        svg = os.path.join(tmp, "r.svg")
        render_cmd = [sys.executable, "-m", "specc", "render", "specs/resnet50.yaml", "-o", svg]
        results["render_svg_s"] = median_time(render_cmd, max(1, runs // 3))
    results["breakdown"] = breakdown(runs)
    print(report(results))
    if os.environ.get("SPECC_BENCH_JSON"):
        Path(os.environ["SPECC_BENCH_JSON"]).write_text(json.dumps(results, indent=1))
    assert specc  # imported for the in-process part


def report(r: dict) -> str:
    ms = lambda s: f"{s * 1000:,.0f} ms" if s >= 0.01 else f"{s * 1000:.1f} ms"  # noqa: E731
    lines = [f"Machine: {r['machine']}", "",
             "| what | specc | baseline | speed-up |", "|---|---:|---:|---:|"]
    lines.append(f"| whole process, ResNet-50 (check vs `python -c` parsing the same YAML with "
                 f"libyaml: the floor) | {ms(r['specc_process_s'])} | {ms(r['parse_floor_s'])} "
                 f"| {r['specc_process_s'] / r['parse_floor_s']:.2f}× the floor |")
    if "torchinfo_process_s" in r:
        lines.append(f"| whole process, ResNet-50 (check vs torch + hand-written model + "
                     f"torchinfo) | {ms(r['specc_process_s'])} | {ms(r['torchinfo_process_s'])} "
                     f"| {r['torchinfo_process_s'] / r['specc_process_s']:.1f}× |")
        lines.append(f"| in process, ResNet-50 (analysis vs torchinfo.summary) | "
                     f"{ms(r['specc_analysis_s'])} | {ms(r['torchinfo_summary_s'])} | "
                     f"{r['torchinfo_summary_s'] / r['specc_analysis_s']:.1f}× |")
    else:
        lines.append(f"| whole process, ResNet-50 | {ms(r['specc_process_s'])} | (no torch) | |")
        lines.append(f"| in process, ResNet-50 | {ms(r['specc_analysis_s'])} | (no torch) | |")
    lines.append(f"| `specc render` ResNet-50 → SVG (whole process) | {ms(r['render_svg_s'])} "
                 "| | |")
    lines += ["", "| scaling | layers | graph nodes | whole process | analysis | peak memory |",
              "|---|---:|---:|---:|---:|---:|"]
    for row in r["scaling"]:
        lines.append(f"| {row['kind']} | {row['layers']:,} | {row['nodes']:,} | "
                     f"{ms(row['process_s'])} | {ms(row['analysis_s'])} | "
                     f"{row['peak_mib']:.1f} MiB |")
    b = r["breakdown"]
    lines += ["", f"Where `specc check -q specs/resnet50.yaml` spends its CPU time "
              f"({ms(b['check_s'])}; the floor {ms(b['floor_s'])}):", "",
              "| part | CPU |", "|---|---:|",
              f"| interpreter start-up (`python -c pass`) | {ms(b['interpreter_s'])} |",
              f"| the floor's yaml import and parse | {ms(b['floor_s'] - b['interpreter_s'])} |"]
    lines += [f"| import {name} | {ms(seconds)} |" for name, seconds in b["imports"].items()
              if seconds >= 0.0002]
    small = sum(seconds for seconds in b["imports"].values() if seconds < 0.0002)
    lines.append(f"| imports under 0.2 ms each | {ms(small)} |")
    lines += [f"| analysis, first call: {name} | {ms(seconds)} |"
              for name, seconds in b["stages"].items()]
    counted = b["floor_s"] + sum(b["imports"].values()) + sum(b["stages"].values())
    lines.append(f"| the rest (argparse's parser, config lookup, report, exit) | "
                 f"{ms(max(b['check_s'] - counted, 0.0))} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
