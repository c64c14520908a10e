"""`specc ops`: every op a spec may name here — specc's own and the enabled plugins'."""
from __future__ import annotations

import sys

from specc.cli._common import EXIT_FINDINGS, EXIT_OK, enable_project_plugins


def add_arguments(p) -> None:
    p.description = ("Every op a spec may use here: specc's own, and those of "
                     "the plugins the configuration enables.")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--config", help="a specc.toml or pyproject.toml to use")
    p.set_defaults(func=run)


def _param_text(param) -> str:
    from specc.ops.base import REQUIRED

    if param.inferred:
        return f"{param.name}?"
    return param.name if param.default is REQUIRED else f"{param.name}={param.default!r}"


def run(args) -> int:
    import json

    from specc.ops.base import all_ops

    problems = enable_project_plugins(args.config)
    ops = all_ops()
    if args.format == "json":
        print(json.dumps([{
            "name": op.name, "kind": op.kind, "category": op.category, "doc": op.doc,
            "plugin": op.plugin, "module": op.module,
            "params": [{"name": p.name, "type": p.type, "inferred": p.inferred,
                        "required": p.required} for p in op.params]}
            for op in ops.values()], indent=1))
    else:
        for op in ops.values():
            source = f"  [plugin {op.plugin}]" if op.plugin else ""
            params = ", ".join(_param_text(p) for p in op.params)
            sys.stdout.write(f"{op.name:26} {op.kind:9} {params}{source}\n")
    return EXIT_FINDINGS if problems else EXIT_OK
