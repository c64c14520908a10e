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
    state = model.state_dict()
    return {k: list(v.shape) for k, v in state.items()}, getattr(state, "_metadata", None)


def checkpoint_compat(old: Graph, new: Graph) -> dict | None:
    before, after = _state_dict_shapes(old), _state_dict_shapes(new)
    if before is None or after is None:
        return None
    return compare_state_dicts(before[0], after[0], metadata=before[1])


def compare_state_dicts(before: dict, after: dict, metadata: dict | None = None) -> dict:
    """Would a state_dict with key -> shape ``before`` load strictly where ``after`` is
    expected? (also the message of ``specc.build(..., weights=)``). ``metadata``: the
    state_dict's ``_metadata`` (module path -> {"version": …}) where it has one; torch's
    BatchNorm reads it to decide whether to fill in a ``num_batches_tracked`` it lacks."""
    needed = {k: shape for k, shape in after.items() if not _filled_by_torch(k, metadata)}
    missing = sorted((k for k in needed if k not in before), key=_key_order)  # NEW needs them
    unexpected = sorted((k for k in before if k not in after), key=_key_order)
    mismatched = {k: [before[k], after[k]] for k in sorted(before, key=_key_order)
                  if k in after and before[k] != after[k]}
    return {"loads": not (missing or unexpected or mismatched), "missing": missing,
            "unexpected": unexpected, "shape_mismatch": mismatched,
            # the same keys, a module whose every tensor is listed written once: `layer1.2.*`
            "missing_modules": _whole_modules(missing, needed, before),
            "unexpected_modules": _whole_modules(unexpected, before, after)}


def _filled_by_torch(key: str, metadata: dict | None) -> bool:
    """A BatchNorm's step counter that a state_dict without it still loads into, strict or
    not: torch's _NormBase._load_from_state_dict sets it to 0 when the state_dict's
    metadata has no version ≥ 2 for that module (a module OLD did not have, a
    safetensors file). Reporting it missing disagreed with torch's missing_keys."""
    module, _, name = key.rpartition(".")
    if name != "num_batches_tracked":
        return False
    version = (metadata or {}).get(module, {}).get("version")
    return version is None or version < 2


def _key_order(key: str) -> tuple:
    """features.2 before features.10, as the model orders them (plain sorting put
    features.11 between features.1 and features.2)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in key.split("."))


def _prefixes(key: str) -> list[str]:
    parts = key.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def _whole_modules(keys: list[str], every: dict, other: dict) -> list[str]:
    """``keys`` with the tensors of a module that are all listed written as ``module.*``
    (the outermost such module): 96 keys of resnet34's new blocks read as 8 lines. Only a
    module the ``other`` state_dict has no tensor under: renaming `enc.fc` to `enc.proj`
    reads `enc.fc.*` unexpected and `enc.proj.*` missing, not `enc.*` on both sides."""
    total: dict[str, int] = defaultdict(int)
    listed: dict[str, int] = defaultdict(int)
    for key in every:
        for prefix in _prefixes(key):
            total[prefix] += 1
    for key in keys:
        for prefix in _prefixes(key):
            listed[prefix] += 1
    elsewhere = {prefix for key in other for prefix in _prefixes(key)}
    out: dict[str, None] = {}
    for key in keys:
        whole = next((p for p in _prefixes(key)
                      if listed[p] == total[p] > 1 and p not in elsewhere), None)
        out[f"{whole}.*" if whole else key] = None
    return list(out)


# ---------------------------------------------------------------- structural matching

def _key(item) -> tuple:
    """What two items must share to be aligned without a common name: the op, or for a
    block the kind of scope (Llama's and Mistral's decoder layers are other blocks with
    the same insides; whether the insides match decides, in _Matching._paired_scopes)."""
    if isinstance(item, Scope):
        return ("scope", item.kind)
    return ("node", item.op)


def _twin_key(item) -> tuple:
    """Items equal under this key are twins: same op and the same arguments, or the same
    block."""
    if isinstance(item, Scope):
        return ("scope", item.kind, item.block)
    return ("node", item.op, _args(item))


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
        self.reblocked: list[tuple[Scope, Scope]] = []  # matched blocks of another block
        self.recounted: list[tuple[Scope, Scope]] = []  # matched repeats, other copy counts
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
        if old.kind == new.kind == "repeat" and len(old.items) != len(new.items):
            self.recounted.append((old, new))
        pairs = _align_items(old.items, new.items)
        old_left = set(range(len(old.items)))
        new_left = set(range(len(new.items)))
        for i, j in pairs:
            x, y = old.items[i], new.items[j]
            old_left.discard(i)
            new_left.discard(j)
            if isinstance(x, Scope) and isinstance(y, Scope) and (
                    x.attr_name != y.attr_name or x.block != y.block):
                self._paired_scopes(x, y)
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

    def _paired_scopes(self, old: Scope, new: Scope) -> None:
        """Two blocks at the same place under other names or of another block. Renamed
        where anything inside them matches; of another block where every node inside
        matches (Llama's decoder layers and Mistral's: same names and ops, arguments may
        differ). Else one removed and one added: ViT's `encoder` is not Swin's `features`
        renamed merely because both are the second unnamed sequence, and resnet50's
        Bottleneck (conv3, bn3) is replaced by resnet34's BasicBlock, not edited into it."""
        lists: list[list] = [self.nodes, self.renamed, self.reindexed, self.removed,
                             self.added, self.reblocked, self.recounted]
        before = [len(found) for found in lists]
        if old.attr_name != new.attr_name:
            (self.renamed if old.named or new.named else self.reindexed).append(
                (old.path, new.path))
        if old.block != new.block:
            self.reblocked.append((old, new))
        self._scopes(old, new)
        same_insides = len(self.removed) == before[3] and len(self.added) == before[4]
        if len(self.nodes) > before[0] and (old.block == new.block or same_insides):
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
    changes_of: dict[tuple[str, str], dict] = {}  # (old id, new id) -> what changed
    for a, b in match.nodes:
        where = {"node": b.id} if a.id == b.id else {"node": b.id, "old_node": a.id}
        if b.id.rpartition(".")[2].isdigit():  # an unnamed node: its path says not what it is
            where["op"] = b.op
        changes = {"op": [a.op, b.op]} if a.op != b.op else _arg_changes(a, b)
        if changes:
            changed.append({**where, "changes": changes})
            changes_of[a.id, b.id] = changes
        if _shape(a) != _shape(b):
            shapes.append({**where, "old": _shape(a), "new": _shape(b)})
    t_old, t_new = totals(old), totals(new)
    return {
        "added": [{"node": n.id, "op": n.op, "output_shape": _shape(n),
                   **_within(match.added_in, n)} for n in match.added],
        "removed": [{"node": n.id, "op": n.op, **_within(match.removed_in, n)}
                    for n in match.removed],
        # a renamed node whose arguments changed too carries them: "renamed A → B, and
        # out_features 64 → 128" is one fact (they are in "changed" as well)
        "renamed": [{"from": x, "to": y, **({"changes": changes_of[x, y]}
                                             if (x, y) in changes_of else {})}
                    for x, y in match.renamed],
        "reindexed": [{"from": x, "to": y} for x, y in match.reindexed],
        # a block whose place and insides match but that is another block (Llama's
        # decoder layer → Mistral's); what changed inside is in the other lists
        "block_changed": [{"scope": y.path, **({"old_scope": x.path} if x.path != y.path
                                               else {}), "from": x.block, "to": y.block}
                          for x, y in match.reblocked],
        # a repeat with more or fewer copies; the copies are in "added" / "removed"
        "repeat_counts": [{"repeat": y.path, **({"old_repeat": x.path} if x.path != y.path
                                                 else {}),
                           "old": len(x.items), "new": len(y.items)}
                          for x, y in match.recounted],
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
    """For a node added or removed with a whole block: which block (the text groups them);
    and the repeat whose whole copy the node or that block is (`layer3.5` of `layer3`)."""
    scope = outer.get(node.id)
    item: Node | Scope = node if scope is None else scope
    parent = item.scope if isinstance(item, Node) else item.parent
    copy = {"copy_of": parent.path} if parent is not None and parent.kind == "repeat" else {}
    if scope is None:
        return copy
    from specc.report.summary import scope_label

    # a repeat by what repeats (`GPT2Block ×12`), as the table and the diagram name it
    kind = scope_label(scope) if scope.kind == "repeat" else scope.block or scope.kind
    return {"within": scope.path, "within_kind": kind, **copy}


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
    recounts = report["repeat_counts"]
    # a renamed node's own changes are said on its rename line, not again under Changed
    told = {(e["from"], e["to"]) for e in report["renamed"] if "changes" in e}
    changed = [e for e in report["changed"] if (e.get("old_node"), e["node"]) not in told]
    sections = [
        ("Added", _grouped(report["added"], "added", {
            e["repeat"]: (e["old"], e["new"]) for e in recounts})),
        ("Removed", _grouped(report["removed"], "removed", {
            e.get("old_repeat", e["repeat"]): (e["old"], e["new"]) for e in recounts})),
        ("Renamed", _fold_copies([(f"{e['from']} → {e['to']}",
                                   f", and {_changes(e['changes'])}" if "changes" in e else "")
                                  for e in report["renamed"]], "")),
        ("Block changed", _fold_copies([
            (_where({"node": e["scope"], **({"old_node": e["old_scope"]}
                                            if "old_scope" in e else {})}),
             f"{e['from']} → {e['to']}") for e in report["block_changed"]],
            whole=[True] * len(report["block_changed"]))),
        ("Unnamed, at a new index", _shifts(_fold_copies([(f"{e['from']} → {e['to']}", "")
                                                          for e in report["reindexed"]], ""))),
        ("Changed", _fold_copies([(_where(e), _changes(e["changes"])) for e in changed])),
        ("Shape changed", _fold_copies([
            (_where(e), f"{_shapes(e['old'])} → {_shapes(e['new'])}")
            for e in report["shape_changes"]])),
    ]
    nodes = {"Added": len(report["added"]), "Removed": len(report["removed"]),
             "Changed": len(changed), "Shape changed": len(report["shape_changes"])}
    pairs = {"Renamed": len(report["renamed"]), "Block changed": len(report["block_changed"]),
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


def _shifts(lines: list[str], most: int = 4) -> list[str]:
    """`A → B` lines of unnamed layers at a new index, more than ``most`` of them in one
    sequence as one line: vgg16 → vgg16_bn's 30 layers of `features` moved by the
    BatchNorms between them read `30 unnamed layers of features (features.1 →
    features.2, …, features.30 → features.43)`, not 30 lines."""
    groups: dict[tuple[str, str], list[str]] = {}
    for line in lines:
        old, _, new = line.partition(" → ")
        groups.setdefault((old.rpartition(".")[0], new.rpartition(".")[0]), []).append(line)
    out = []
    for (old, new), shifted in groups.items():
        if len(shifted) <= most:
            out += shifted
            continue
        where = old if old == new else f"{old} → {new}"
        out.append(f"{len(shifted)} unnamed layers of {where or 'the model'} "
                   f"({shifted[0]}, …, {shifted[-1]})")
    return out


def _changes(changes: dict) -> str:
    return ", ".join(f"{k} {v[0]!r} → {v[1]!r}" for k, v in changes.items())


def _fold_copies(entries: list[tuple[str, str]], sep: str = ": ",
                 whole: list[bool] | None = None) -> list[str]:
    """``(path, change)`` as `path: change` lines, the same change in several copies of a
    repeat as one (see _folds)."""
    return [f"{path}{sep}{change}" for path, change, _ in _folds(entries, whole)]


def _folds(entries: list[tuple[str, str]],
           whole: list[bool] | None = None) -> list[tuple[str, str, list[str]]]:
    """``(path, change)`` entries with the same change in several copies of a repeat folded
    into one ``(folded path, change, the paths it stands for)``:
    `model.layers.0–31.mlp.gate_proj` instead of 32 paths that differ only in the copy's
    index. A path may name a pair, `a.0.5 → a.0.6`, whose copy index is the same on both
    sides: places that hold the same number in every path fold as one. A copy's index has
    the copy's insides after it (unnamed layers `2` and `5` of one sequence changed in
    the same way are not copies of anything), unless ``whole[i]`` says entry ``i`` is a
    whole block or node added or removed, whose places are worth one line: `layer3.2–5`,
    `features.{1,4,8} (BatchNorm2d)`.
    Independent indices fold one after the other, the innermost first (Swin's
    `features.{1,3,7}.0–1.attn`), each only across paths equal everywhere else, so a
    folded path stands for exactly the paths it was folded from."""
    groups: dict[tuple, list[list[str]]] = {}
    for at, (path, change) in enumerate(entries):
        parts = path.split(".")
        pattern = tuple("#" if part.isdigit() else part for part in parts)
        groups.setdefault((pattern, change, bool(whole and whole[at])), []).append(parts)
    out = []
    for (_, change, last_folds), paths in groups.items():
        width = len(paths[0])
        arrow = next((at for at, part in enumerate(paths[0]) if " → " in part), width)
        copy_indices: list[list[int]] = []  # the places of one copy index each
        for at in range(width if last_folds else width - 1):
            column = [p[at] for p in paths]
            if len(set(column)) == 1:
                continue
            # a place after the arrow holding the same numbers as one before it is the
            # same copy's index on the other side of a pair; on one side, two places are
            # two indices even where the paths happen to hold equal numbers
            same = next((places for places in copy_indices if at > arrow > places[-1]
                         and [p[places[0]] for p in paths] == column), None)
            if same:
                same.append(at)
            else:
                copy_indices.append([at])
        rows = [(parts, [".".join(parts)]) for parts in paths]
        for places in sorted(copy_indices, key=max, reverse=True):
            merged: dict[tuple, tuple[list[str], set[int], list[str]]] = {}
            for parts, members in rows:
                rest = tuple(part for at, part in enumerate(parts) if at not in places)
                if rest in merged:
                    merged[rest][1].add(int(parts[places[0]]))
                    merged[rest][2].extend(members)
                else:
                    merged[rest] = (parts, {int(parts[places[0]])}, list(members))
            rows = []
            for parts, indices, members in merged.values():
                if len(indices) > 1:
                    folded = _index_range(sorted(indices))
                    parts = [folded if at in places else part for at, part in enumerate(parts)]
                rows.append((parts, members))
        out += [(".".join(parts), change, members) for parts, members in rows]
    return out


def _index_range(indices: list[int]) -> str:
    """0–31 for consecutive copies (as the diagram names folded ones), else {1,4,8}."""
    if indices == list(range(indices[0], indices[-1] + 1)):
        return f"{indices[0]}–{indices[-1]}"
    return "{" + ",".join(map(str, indices)) + "}"


def _grouped(entries: list, verb: str, recounts: dict) -> list[str]:
    """One line per node, then one per whole block added or removed, the same in several
    copies of a repeat folded into one (`model.layers.0–31.input_norm (RMSNorm)`); copies
    that a repeat gained or lost say so: `layer3: 2 → 6 copies, added layer3.2–5
    (BasicBlock, 7 nodes each)`. ``recounts``: repeat path -> (old, new) copy count."""
    nodes = [e for e in entries if "within" not in e]
    blocks: dict[str, list] = {}  # block path -> [its kind, nodes in it, the repeat it copies]
    for e in entries:
        if "within" in e:
            blocks.setdefault(e["within"], [e["within_kind"], 0, e.get("copy_of")])[1] += 1
    copy_of = {e["node"]: e.get("copy_of") for e in nodes}
    copy_of.update((path, block[2]) for path, block in blocks.items())

    def recounted(members: list[str]) -> str:
        repeats = {copy_of[m] for m in members}
        repeat = repeats.pop() if len(repeats) == 1 else None
        if repeat not in recounts:
            return ""
        old, new = recounts[repeat]
        return f"{repeat}: {old} → {new} copies, {verb} "

    # the same op added at several places of one sequence is one line too, its places
    # listed: vgg16 → vgg16_bn's 13 BatchNorms read `features.{1,4,…,41} (BatchNorm2d)`
    lines = [f"{recounted(members)}{path} {op}" for path, op, members in _folds(
        [(e["node"], f"({e['op']})") for e in nodes], [True] * len(nodes))]
    for path, kind, members in _folds([(p, block[0]) for p, block in blocks.items()],
                                      [True] * len(blocks)):
        counts = [blocks[m][1] for m in members]
        if len(set(counts)) > 1:
            size = f"{sum(counts)} nodes in all"
        else:
            size = f"{counts[0]} node{'s' * (counts[0] != 1)}{' each' * (len(counts) > 1)}"
        lines.append(f"{recounted(members)}{path} ({kind}, {size})")
    return lines


def _where(entry: dict) -> str:
    """`fc`, `enc → encoder`; an unnamed node with its op: `9 (flatten)`."""
    where = entry["node"] if "old_node" not in entry else f"{entry['old_node']} → {entry['node']}"
    return f"{where} ({entry['op']})" if "op" in entry else where


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
