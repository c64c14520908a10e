"""`specc diff OLD NEW`: what changed in the architecture, and whether OLD's checkpoint loads.

Nodes are matched by structure, not by index: the two scope trees are walked together, and
in each scope the items (nodes and sub-scopes) are aligned — first by name, then, between
named anchors, by a shortest edit script over twins (same op and arguments) and then, between
twins, over their ops (Myers' O((N+M)·D) algorithm, D the number of edits). So inserting one
Dropout into a sequence reports one added node even
though every later unnamed node's index shifts, and renaming 1,000 layers costs linear time.
Matched nodes are compared for op, arguments and output shapes; a removed and an added node
with the same op, arguments and shapes (e.g. moved into another block) are reported as a
rename. Checkpoint compatibility compares the state_dicts of both models built on the meta
device (torch is imported only for that part; without torch the rest of the report works).
"""
from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict, deque

from specc.dims import dim_json
from specc.infer import totals
from specc.ir import Graph, Node, Scope

# Past this many edits inside one gap between named anchors, alignment stops being worth
# its O(D²) memory: the remaining items are paired greedily by op, in order.
MAX_ALIGN_EDITS = 500


def _args(node: Node) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in node.attrs.items()))


def _signature(node: Node):
    types = tuple((tuple(map(str, t.shape)), t.dtype) for t in node.out_types or [])
    return node.op, _args(node), types


def _arg_changes(old: Node, new: Node) -> dict:
    keys = sorted(set(old.attrs) | set(new.attrs))
    return {k: [old.attrs.get(k), new.attrs.get(k)] for k in keys
            if old.attrs.get(k) != new.attrs.get(k)}


def _shape(node: Node):
    return [[dim_json(d) for d in t.shape] for t in node.out_types or []]


def _state_dict_shapes(graph: Graph):
    from specc.compile.build import build_module, import_torch

    try:
        import_torch()
    except ImportError:
        return None

    model = build_module(graph, device="meta", max_params=10**15)
    return {k: list(v.shape) for k, v in model.state_dict().items()}


def checkpoint_compat(old: Graph, new: Graph) -> dict | None:
    before, after = _state_dict_shapes(old), _state_dict_shapes(new)
    if before is None or after is None:
        return None
    return compare_state_dicts(before, after)


def compare_state_dicts(before: dict, after: dict) -> dict:
    """Would a state_dict with key -> shape ``before`` load strictly where ``after`` is
    expected? (also the message of ``specc.build(..., weights=)``)"""
    missing = sorted((k for k in after if k not in before), key=_key_order)  # NEW needs them
    unexpected = sorted((k for k in before if k not in after), key=_key_order)
    mismatched = {k: [before[k], after[k]] for k in sorted(before, key=_key_order)
                  if k in after and before[k] != after[k]}
    return {"loads": not (missing or unexpected or mismatched), "missing": missing,
            "unexpected": unexpected, "shape_mismatch": mismatched,
            # the same keys, a module whose every tensor is listed written once: `layer1.2.*`
            "missing_modules": _whole_modules(missing, after),
            "unexpected_modules": _whole_modules(unexpected, before)}


def _key_order(key: str) -> tuple:
    """features.2 before features.10, as the model orders them (plain sorting put
    features.11 between features.1 and features.2)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in key.split("."))


def _prefixes(key: str) -> list[str]:
    parts = key.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def _whole_modules(keys: list[str], every: dict) -> list[str]:
    """``keys`` with the tensors of a module that are all listed written as ``module.*``
    (the outermost such module): 96 keys of resnet34's new blocks read as 8 lines."""
    total: dict[str, int] = defaultdict(int)
    listed: dict[str, int] = defaultdict(int)
    for key in every:
        for prefix in _prefixes(key):
            total[prefix] += 1
    for key in keys:
        for prefix in _prefixes(key):
            listed[prefix] += 1
    out: dict[str, None] = {}
    for key in keys:
        whole = next((p for p in _prefixes(key) if listed[p] == total[p] > 1), None)
        out[f"{whole}.*" if whole else key] = None
    return list(out)


# ---------------------------------------------------------------- structural matching

def _key(item) -> tuple:
    """What two items must share to be aligned without a common name."""
    if isinstance(item, Scope):
        return ("scope", item.kind, item.block)
    return ("node", item.op)


def _twin_key(item) -> tuple:
    """Items equal under this key are twins: same op and the same arguments."""
    return _key(item) if isinstance(item, Scope) else ("node", item.op, _args(item))


def _edit_script_pairs(a: list, b: list, max_edits: int) -> list[tuple[int, int]] | None:
    """Index pairs of a longest common subsequence of ``a`` and ``b`` (Myers' greedy
    algorithm), or None when it needs more than ``max_edits`` insertions + deletions."""
    n, m = len(a), len(b)
    front: dict[int, int] = {1: 0}
    trace = []
    for d in range(min(n + m, max_edits) + 1):
        trace.append(dict(front))
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and front[k - 1] < front[k + 1]):
                x = front[k + 1]
            else:
                x = front[k - 1] + 1
            y = x - k
            while x < n and y < m and a[x] == b[y]:
                x, y = x + 1, y + 1
            front[k] = x
            if x >= n and y >= m:
                return _backtrack(trace, n, m)
    return None


def _backtrack(trace, x, y) -> list[tuple[int, int]]:
    pairs = []
    for d in range(len(trace) - 1, -1, -1):
        front, k = trace[d], x - y
        if d == 0:
            prev_k = 0
        elif k == -d or (k != d and front[k - 1] < front[k + 1]):
            prev_k = k + 1
        else:
            prev_k = k - 1
        prev_x = front.get(prev_k, 0) if d else 0
        prev_y = prev_x - prev_k
        while x > prev_x and y > prev_y:
            x, y = x - 1, y - 1
            pairs.append((x, y))
        x, y = prev_x, prev_y
    pairs.reverse()
    return pairs


def _align_by_key(a: list, b: list, key=_key) -> list[tuple[int, int]]:
    """Pairs of equal-key items of ``a`` and ``b``, in order, as few edits as possible."""
    ka, kb = [key(x) for x in a], [key(y) for y in b]
    lo = 0  # common prefix and suffix first: the usual diff is a small edit in a long list
    while lo < len(ka) and lo < len(kb) and ka[lo] == kb[lo]:
        lo += 1
    hi_a, hi_b = len(ka), len(kb)
    while hi_a > lo and hi_b > lo and ka[hi_a - 1] == kb[hi_b - 1]:
        hi_a, hi_b = hi_a - 1, hi_b - 1
    middle = _edit_script_pairs(ka[lo:hi_a], kb[lo:hi_b], MAX_ALIGN_EDITS)
    if middle is None:  # very different: pair the k-th item of each key with the k-th
        waiting: dict = defaultdict(deque)
        for j in range(lo, hi_b):
            waiting[kb[j]].append(j)
        middle = [(i - lo, waiting[ka[i]].popleft() - lo)
                  for i in range(lo, hi_a) if waiting[ka[i]]]
    return ([(i, i) for i in range(lo)] + [(i + lo, j + lo) for i, j in middle]
            + [(hi_a + t, hi_b + t) for t in range(len(ka) - hi_a)])


def _increasing_subset(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of ``pairs`` (sorted by first index) whose second indices
    increase — the named anchors that keep their order (O(n log n) patience sorting)."""
    tails: list[int] = []
    tail_at: list[int] = []
    back = [-1] * len(pairs)
    for p, (_, j) in enumerate(pairs):
        pos = bisect_left(tails, j)
        if pos == len(tails):
            tails.append(j)
            tail_at.append(p)
        else:
            tails[pos], tail_at[pos] = j, p
        back[p] = tail_at[pos - 1] if pos else -1
    chain, p = [], tail_at[-1] if tail_at else -1
    while p != -1:
        chain.append(pairs[p])
        p = back[p]
    return chain[::-1]


def _align_items(a: list, b: list) -> list[tuple[int, int]]:
    """Match the items of two scopes: by name where both are named, in between by op."""
    b_named = {y.attr_name: j for j, y in enumerate(b) if y.named}
    anchors = _increasing_subset([(i, b_named[x.attr_name]) for i, x in enumerate(a)
                                  if x.named and x.attr_name in b_named
                                  and isinstance(x, Scope) == isinstance(b[b_named[x.attr_name]], Scope)])
    return _between(anchors, a, b, _align_twins_first)


def _align_twins_first(a: list, b: list) -> list[tuple[int, int]]:
    """Twins first, then items of the same op between them: inserting Dropout(p=0.1) in
    front of a Dropout(p=0.2) is one added node, not "p 0.2 → 0.1" plus an added one."""
    return _between(_align_by_key(a, b, _twin_key), a, b, _align_by_key)


def _between(anchors: list[tuple[int, int]], a: list, b: list, align) -> list[tuple[int, int]]:
    """``anchors`` (increasing pairs) plus what ``align`` pairs in each gap between them."""
    pairs, prev_i, prev_j = [], 0, 0
    for i, j in anchors + [(len(a), len(b))]:
        gap = align(a[prev_i:i], b[prev_j:j])
        pairs += [(prev_i + x, prev_j + y) for x, y in gap]
        if i < len(a):
            pairs.append((i, j))
        prev_i, prev_j = i + 1, j + 1
    return pairs


class _Matching:
    """The outcome of walking OLD's and NEW's scope trees together."""

    def __init__(self, old: Graph, new: Graph):
        self.nodes: list[tuple[Node, Node]] = []  # matched node pairs
        self.renamed: list[tuple[str, str]] = []  # items whose own name changed
        self.reindexed: list[tuple[str, str]] = []  # unnamed items whose index shifted
        self.removed: list[Node] = []
        self.added: list[Node] = []
        self.added_in: dict[str, Scope] = {}  # added node id -> outermost added scope
        self.removed_in: dict[str, Scope] = {}
        old_inputs = {n.id: n for n in old.inputs}
        for n in new.inputs:
            if n.id in old_inputs:
                self.nodes.append((old_inputs.pop(n.id), n))
            else:
                self.added.append(n)
        self.removed += old_inputs.values()
        self._scopes(old.root, new.root)
        self._moves()

    def _scopes(self, old: Scope, new: Scope) -> None:
        pairs = _align_items(old.items, new.items)
        old_left = set(range(len(old.items)))
        new_left = set(range(len(new.items)))
        for i, j in pairs:
            x, y = old.items[i], new.items[j]
            old_left.discard(i)
            new_left.discard(j)
            if isinstance(x, Scope) and isinstance(y, Scope) and x.attr_name != y.attr_name:
                self._renamed_scopes(x, y)
                continue
            if x.attr_name != y.attr_name:
                (self.renamed if x.named or y.named else self.reindexed).append(
                    (_item_id(x), _item_id(y)))
            if isinstance(x, Scope) and isinstance(y, Scope):
                self._scopes(x, y)
            elif isinstance(x, Node) and isinstance(y, Node):
                self.nodes.append((x, y))
            else:  # a layer became a block or the reverse: one removed, one added
                self._gone(x, self.removed, self.removed_in)
                self._gone(y, self.added, self.added_in)
        for i in sorted(old_left):
            self._gone(old.items[i], self.removed, self.removed_in)
        for j in sorted(new_left):
            self._gone(new.items[j], self.added, self.added_in)

    def _renamed_scopes(self, old: Scope, new: Scope) -> None:
        """Two blocks at the same place under other names: a rename where anything inside
        them matches; else one removed and one added (ViT's `encoder` is not Swin's
        `features` renamed merely because both are the second unnamed sequence)."""
        lists: list[list] = [self.nodes, self.renamed, self.reindexed, self.removed,
                             self.added]
        before = [len(found) for found in lists]
        (self.renamed if old.named or new.named else self.reindexed).append(
            (old.path, new.path))
        self._scopes(old, new)
        if len(self.nodes) > before[0]:
            return
        for found, length in zip(lists, before):
            del found[length:]
        self._gone(old, self.removed, self.removed_in)  # re-marks every node inside
        self._gone(new, self.added, self.added_in)

    @staticmethod
    def _gone(item, nodes: list, outer: dict) -> None:
        if isinstance(item, Scope):
            for node in item.walk_nodes():
                nodes.append(node)
                outer[node.id] = item
        else:
            nodes.append(item)

    def _moves(self) -> None:
        """A removed and an added node with the same op, arguments and shapes: a rename."""
        waiting: dict = defaultdict(deque)
        for node in self.added:
            if node.id not in self.added_in:  # whole blocks added stay whole
                waiting[_signature(node)].append(node)
        moved: set = set()
        for node in self.removed:
            same = waiting.get(_signature(node))
            if same and node.id not in self.removed_in:
                target = same.popleft()
                self.renamed.append((node.id, target.id))
                self.nodes.append((node, target))
                moved.update((id(node), id(target)))
        self.removed = [n for n in self.removed if id(n) not in moved]
        self.added = [n for n in self.added if id(n) not in moved]


def _item_id(item) -> str:
    return item.path if isinstance(item, Scope) else item.id


def diff_graphs(old: Graph, new: Graph) -> dict:
    match = _Matching(old, new)
    changed, shapes = [], []
    for a, b in match.nodes:
        where = {"node": b.id} if a.id == b.id else {"node": b.id, "old_node": a.id}
        if a.op != b.op:
            changed.append({**where, "changes": {"op": [a.op, b.op]}})
        elif _arg_changes(a, b):
            changed.append({**where, "changes": _arg_changes(a, b)})
        if _shape(a) != _shape(b):
            shapes.append({**where, "old": _shape(a), "new": _shape(b)})
    t_old, t_new = totals(old), totals(new)
    return {
        "added": [{"node": n.id, "op": n.op, "output_shape": _shape(n),
                   **_within(match.added_in, n)} for n in match.added],
        "removed": [{"node": n.id, "op": n.op, **_within(match.removed_in, n)}
                    for n in match.removed],
        "renamed": [{"from": x, "to": y} for x, y in match.renamed],
        "reindexed": [{"from": x, "to": y} for x, y in match.reindexed],
        "changed": changed,
        "shape_changes": shapes,
        "outputs": {"old": {k: r.type.to_json() for k, r in old.outputs if r.type},
                    "new": {k: r.type.to_json() for k, r in new.outputs if r.type}},
        "params": {"old": t_old["params"], "new": t_new["params"],
                   "delta": t_new["params"] - t_old["params"]},
        # int or symbolic (Sym: `7504658432*T+262144*T*T`, subtracted exactly); the text
        # prints them as check's table does, JSON in the machine form (json_default)
        "macs": {"old": t_old["macs"], "new": t_new["macs"],
                 "delta": t_new["macs"] - t_old["macs"]},
        # per sample while the batch is symbolic (bound to 1), as check's table says; with
        # a concrete batch (a literal or --dim N=8) the whole batch's
        "macs_per_sample": {"old": bool(old.batch_symbols), "new": bool(new.batch_symbols)},
        "checkpoint": checkpoint_compat(old, new),
    }


def json_default(value):
    """For json.dumps of a report: a symbolic count in the machine form check's JSON uses."""
    return dim_json(value)


def _within(outer: dict, node: Node) -> dict:
    """For a node added or removed with a whole block: which block (the text groups them)."""
    scope = outer.get(node.id)
    if scope is None:
        return {}
    from specc.report.summary import scope_label

    # a repeat by what repeats (`GPT2Block ×12`), as the table and the diagram name it
    kind = scope_label(scope) if scope.kind == "repeat" else scope.block or scope.kind
    return {"within": scope.path, "within_kind": kind}


def _change(old, new, delta) -> str:
    """`1,814,073,344 → 3,663,761,408 (+1,849,688,064)`; a symbolic count as check's table
    writes it, `7,504,658,432·T + 262,144·T² → … (-1,308,622,848·T)`."""
    from specc.report.summary import count_text

    if delta == 0:
        return f"{count_text(old)} (unchanged)"
    change = count_text(delta)
    return f"{count_text(old)} → {count_text(new)} ({'' if change[0] == '-' else '+'}{change})"


def _macs_label(per_sample: dict) -> str:
    """What the MACs line counts: per sample, the whole batch, or (two specs that disagree)
    which side counts what."""
    if per_sample["old"] == per_sample["new"]:
        return "MACs/sample" if per_sample["old"] else "MACs"
    return "MACs (old per sample, new per batch)" if per_sample["old"] else \
        "MACs (old per batch, new per sample)"


def format_text(report: dict, old_path: str, new_path: str, limit: int = 25) -> str:
    p, m = report["params"], report["macs"]
    lines = [f"specc diff {old_path} → {new_path}",
             f"  params:      {_change(p['old'], p['new'], p['delta'])}",
             f"  {_macs_label(report['macs_per_sample']) + ':':<12} "
             f"{_change(m['old'], m['new'], m['delta'])}"]
    outs_old, outs_new = report["outputs"]["old"], report["outputs"]["new"]
    if outs_old != outs_new:
        lines.append(f"  outputs:     {_outs(outs_old)} → {_outs(outs_new)}")
    sections = [
        ("Added", _grouped(report["added"])),
        ("Removed", _grouped(report["removed"])),
        ("Renamed", _fold_copies([(f"{e['from']} → {e['to']}", "") for e in report["renamed"]],
                                 "")),
        ("Unnamed, at a new index", _fold_copies([(f"{e['from']} → {e['to']}", "")
                                                  for e in report["reindexed"]], "")),
        ("Changed", _fold_copies([(_where(e), ", ".join(
            f"{k} {v[0]!r} → {v[1]!r}" for k, v in e["changes"].items()))
            for e in report["changed"]])),
        ("Shape changed", _fold_copies([
            (_where(e), f"{_shapes(e['old'])} → {_shapes(e['new'])}")
            for e in report["shape_changes"]])),
    ]
    nodes = {"Added": len(report["added"]), "Removed": len(report["removed"]),
             "Changed": len(report["changed"]), "Shape changed": len(report["shape_changes"])}
    pairs = {"Renamed": len(report["renamed"]),
             "Unnamed, at a new index": len(report["reindexed"])}
    for title, items in sections:
        if items:  # folded lines stand for several nodes: the count says how many
            count = f"{nodes[title]} node{'s' * (nodes[title] != 1)}" if title in nodes \
                else pairs[title]
            lines.append(f"{title} ({count}):")
            lines += [f"  {item}" for item in items[:limit]]
            if len(items) > limit:
                lines.append(f"  … and {len(items) - limit} more (--format json lists all)")
    if not any(items for _, items in sections):
        lines.append("No architectural changes.")
    lines += _checkpoint_lines(report["checkpoint"], limit)
    if _keys_moved_with_index(report):
        lines.append("  (an unnamed layer's state_dict key is its index: those at a new index "
                     "have new keys; a `name:` keeps a key stable)")
    return "\n".join(lines)


def _keys_moved_with_index(report: dict) -> bool:
    """Whether tensors are missing or unexpected because an unnamed layer changed index."""
    cp = report["checkpoint"]
    if not cp or cp["loads"]:
        return False
    moved = [(e["from"] + ".", e["to"] + ".") for e in report["reindexed"]]
    return any(key.startswith(old) for key in cp["unexpected"] for old, _ in moved) or \
        any(key.startswith(new) for key in cp["missing"] for _, new in moved)


def _fold_copies(entries: list[tuple[str, str]], sep: str = ": ") -> list[str]:
    """``(path, change)`` as `path: change` lines, the same change in several copies of a
    repeat as one: `model.layers.0–31.mlp.gate_proj: out_features 14336 → 11008` instead of
    32 lines that differ only in the copy's index. A path may name a pair, `a.0.5 → a.0.6`,
    whose copy index is the same on both sides."""
    groups: dict[tuple, list[list[str]]] = {}
    for path, change in entries:
        parts = path.split(".")
        pattern = tuple("#" if part.isdigit() else part for part in parts)
        groups.setdefault((pattern, change), []).append(parts)
    lines = []
    for (_, change), paths in groups.items():
        varying = [at for at in range(len(paths[0])) if len({p[at] for p in paths}) > 1]
        # one copy index: every varying place holds the same number in each path; and a
        # copy's index has the copy's insides after it (unnamed layers `2` and `5` of one
        # sequence are not copies of anything)
        if not varying or varying[-1] == len(paths[0]) - 1 or any(
                len({p[at] for at in varying}) > 1 for p in paths):  # written out
            lines += [f"{'.'.join(parts)}{sep}{change}" for parts in paths]
            continue
        parts = list(paths[0])
        for at in varying:
            parts[at] = _index_range(sorted({int(p[at]) for p in paths}))
        lines.append(f"{'.'.join(parts)}{sep}{change}")
    return lines


def _index_range(indices: list[int]) -> str:
    """0–31 for consecutive copies (as the diagram names folded ones), else {1,4,8}."""
    if indices == list(range(indices[0], indices[-1] + 1)):
        return f"{indices[0]}–{indices[-1]}"
    return "{" + ",".join(map(str, indices)) + "}"


def _grouped(entries: list) -> list[str]:
    """One line per node (the same op in several copies of a repeat folded into one), then
    one per whole block added or removed."""
    blocks: dict[str, list] = {}  # block path -> [its kind, nodes in it]
    for e in entries:
        if "within" in e:
            blocks.setdefault(e["within"], [e["within_kind"], 0])[1] += 1
    return _fold_copies([(e["node"], f"({e['op']})") for e in entries if "within" not in e],
                        " ") + [f"{path} ({kind}, {count} node{'s' * (count != 1)})"
                                for path, (kind, count) in blocks.items()]


def _where(entry: dict) -> str:
    return entry["node"] if "old_node" not in entry else f"{entry['old_node']} → {entry['node']}"


def _checkpoint_lines(cp, limit: int) -> list[str]:
    if cp is None:
        return ["Checkpoint compatibility: unknown (install torch to compare state_dicts)"]
    if cp["loads"]:
        return ["Checkpoint: a state_dict of OLD loads into NEW with strict=True."]
    lines = ["Checkpoint: a state_dict of OLD does NOT load into NEW (strict=True):"]
    for title, keys, modules in (
            ("missing from OLD (NEW needs them)", cp["missing"], cp["missing_modules"]),
            ("unexpected (OLD has them, NEW does not)", cp["unexpected"],
             cp["unexpected_modules"])):
        if keys:
            lines.append(f"  {len(keys)} tensor{'s' * (len(keys) != 1)} {title}:")
            lines += _limited(_fold_copies([(module, "") for module in modules], ""), limit)
    if cp["shape_mismatch"]:
        items = cp["shape_mismatch"]
        lines.append(f"  {len(items)} tensor{'s' * (len(items) != 1)} of another shape "
                     "(OLD → NEW):")
        lines += _limited(_fold_copies([(key, f"{_shapes([a])} → {_shapes([b])}")
                                        for key, (a, b) in items.items()]), limit)
    return lines


def _limited(items: list[str], limit: int) -> list[str]:
    """Indented lines, at most ``limit`` of them."""
    lines = [f"    {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"    … and {len(items) - limit} more (--format json lists all)")
    return lines


def _outs(outs: dict) -> str:
    return ", ".join(f"{k} {_shapes([v['shape']])}" for k, v in outs.items())


def _shapes(shapes) -> str:
    return ", ".join("[" + ", ".join(map(str, s)) + "]" for s in shapes)
