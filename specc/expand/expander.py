"""The sequence walk: `layers:` lists → nodes and scopes.

Every item of a sequence goes through :meth:`Expander.entry`: an unnamed `repeat` is
spliced in, an `inline` block joins the sequence, anything else becomes one node or one
container at a :class:`Place`, built by :meth:`Expander.build` (block, nested layers or op).
"""
from __future__ import annotations

from contextlib import contextmanager
from collections.abc import Collection

from specc.errors import Diagnostic, Limits, Loc, SpecError
from specc.expand.copies import Template, reads_i
from specc.expand.mapping import normalise, without
from specc.expand.names import (NodeError, check_name, misspelt_required, suggest,
                                unknown_misspelling)
from specc.expand.place import Disabled, Frame, Inline, Namespace, Place, Sequence, output_of
from specc.expr import ExprError, evaluate, substitute
from specc.ir import Node, Ref, Scope
from specc.loader import LDict, LList
from specc.ops.base import REQUIRED, get_op
from specc.initializers import TENSORS as INIT_TENSORS, InitEntryError, parse as parse_init
from specc.ops.ptypes import check_value

# The keys of a node mapping that are not op or block parameters.
NODE_KEYS = ("name", "op", "block", "layers", "from", "if", "repeat", "repeat_name", "init",
             "inline", "checkpoint", "tie", "training_only")
SUGGESTIONS = 100  # unknown names that get a "did you mean" (each scans the visible names)
# the copies of a named repeat whose copies are alike are made by copying the first
# (specc/expand/copies.py); False expands each copy (the tests compare the two)
COPY_REPEATS = True


class Expander:
    def __init__(self, doc: LDict, dims: dict | None = None, limits: Limits | None = None):
        self.doc = doc
        self.dims = dict(dims or {})
        self.symbols: set = set()  # the symbols the spec declares (input shapes, shape params)
        self.limits = limits or Limits()
        self.diagnostics: list[Diagnostic] = []
        self.nodes: list[Node] = []
        self.block_stack: list[str] = []  # block uses being expanded, to refuse recursion
        self.vars: dict = {}
        self.paths: set[str] = set()  # module paths taken so far
        # Budgets (issue 14): every expansion step counts, not only the nodes it makes
        # (nested repeats of empty or disabled blocks make no nodes but can take 10**12
        # steps); sequences nest at most max_nesting deep, blocks and inline splices
        # included, so the recursive stages after this one never run out of stack; and
        # "did you mean" is computed for the first SUGGESTIONS unknown names only.
        self.steps = 0
        self.depth = 0
        self.suggestions_left = SUGGESTIONS
        self.bad_module_orders: set[str] = set()  # blocks whose module_order was reported
        # inside an item that says `training_only: true`: every node and container made is
        # training-only, and may read training-only values
        self.training_only = False
        # the spec's per-op-type `init:`: op name -> (entry, locations), see node_init
        self.init_by_op: dict[str, tuple] = {}

    def report(self, code: str, message: str, loc: Loc, node: str | None = None,
               hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, "error", loc, node, hint))

    # -- sequences ---------------------------------------------------------------
    def sequence(self, items: LList, frame: Frame, outer: Namespace, prev: Ref | None,
                 env: dict, names: Namespace | None = None) -> Ref | None:
        """Expand a `layers:` list into `frame`; returns the value its last item produces.
        Its names go into `names` (a new namespace inside `outer` if not given)."""
        self.depth += 1
        try:
            if self.depth - 1 > self.limits.max_nesting:  # the model's own layers: level 0
                raise SpecError(Diagnostic(
                    "E004", f"sequences nest more than {self.limits.max_nesting} levels deep "
                    "(max_nesting; nested `layers`, blocks and inline blocks all count)",
                    "error", items.loc))
            return self._sequence(items, frame, names if names is not None else Namespace(outer),
                                  prev, env)
        finally:
            self.depth -= 1

    def step(self, loc: Loc) -> None:
        """Count one expansion step against max_expansion_steps."""
        self.steps += 1
        if self.steps > self.limits.max_expansion_steps:
            raise SpecError(Diagnostic(
                "E004", f"expanding the spec takes more than {self.limits.max_expansion_steps} "
                "steps (max_expansion_steps; nested repeats multiply, even of empty or "
                "disabled items)", "error", loc))

    def suggest(self, word, options) -> str | None:
        """A "did you mean" for the first SUGGESTIONS unknown names; ``options`` may be a
        callable, so the candidates are not even collected once the budget is spent."""
        if self.suggestions_left <= 0:
            return None
        self.suggestions_left -= 1
        return suggest(word, options() if callable(options) else options)

    def unknown_parameter(self, code: str, what: str, key: str, loc: Loc, options,
                          missing: list) -> NodeError:
        """The error of an unknown parameter ``key``: when it misspells a required one that
        is ``missing``, one error says both (as validate() does for the schema's two);
        else a "did you mean", or the parameters there are."""
        wanted = misspelt_required(key, options, missing)
        if wanted is not None:
            return NodeError(code, unknown_misspelling(what, key, wanted), loc)
        return NodeError(code, f"{what} '{key}'", loc, self.suggest(key, options) or
                         f"its parameters: {', '.join(options) or 'none'}")

    def _sequence(self, items: LList, frame: Frame, names: Namespace, prev: Ref | None,
                  env: dict) -> Ref | None:
        if frame.names is None:
            frame.names = names
        later = {item.get("name") for item in items
                 if isinstance(item, dict) and isinstance(item.get("name"), str)}
        seq = Sequence(frame, names, env, later)
        for position, raw in enumerate(items):
            loc = items.loc_of(position)
            item = normalise(raw, loc)
            index = frame.next_index
            try:
                prev = self.entry(item, seq, prev, loc)
            except NodeError as exc:
                place = Place(frame, str(item.get("name", index)), "name" in item, loc)
                self.report(exc.code, str(exc), exc.loc, place.path, exc.hint)
                broken = self._broken(item, place, seq, prev)
                if item.get("training_only") is not True:  # a side branch leaves prev alone
                    prev = broken
            if len(self.nodes) > self.limits.max_graph_nodes:
                raise SpecError(Diagnostic("E004", f"the model expands to more than "
                                           f"{self.limits.max_graph_nodes} nodes "
                                           "(max_graph_nodes)", "error", loc))
        return prev

    def entry(self, item: LDict, seq: Sequence, prev: Ref | None, loc: Loc) -> Ref | None:
        self.step(loc)
        if "training_only" in item:
            flag = self.eval(item["training_only"], seq.env, item.loc_of("training_only"),
                             "training_only")
            if not isinstance(flag, bool):
                raise NodeError("E104", f"training_only must be true or false, got {flag!r}",
                                item.loc_of("training_only"))
            item = without(item, ("training_only",))
            if flag:
                return self._training_branch(item, seq, prev, loc)
        return self._entry(item, seq, prev, loc)

    def _training_branch(self, item: LDict, seq: Sequence, prev: Ref | None,
                         loc: Loc) -> Ref | None:
        """`training_only: true`: the item (a node, a container, a repeat, an inline block)
        is built as usual but runs only in training. It is a side branch, as torchvision's
        aux heads are: the next item reads what it would have read without it."""
        outer = self.training_only
        self.training_only = True
        try:
            self._entry(item, seq, prev, loc)
        finally:
            self.training_only = outer
        return prev

    def _entry(self, item: LDict, seq: Sequence, prev: Ref | None, loc: Loc) -> Ref | None:
        inline = bool(item.get("inline")) and "block" in item
        if "repeat" in item and ("name" not in item or inline):
            return self._splice_repeat(item, seq, prev, loc)
        if inline:
            return self._inline(item, seq, prev)
        return self._item(item, seq, prev, loc)

    def _broken(self, item: LDict, place: Place, seq: Sequence, prev: Ref | None) -> Ref:
        """A stand-in for a node that failed to expand, so later nodes are still checked."""
        node = Node(place.path, str(item.get("op", "?")), {}, [prev] if prev else [],
                    place.loc, scope=place.frame.scope, attr_name=place.name, broken=True,
                    training_only=self.training_only)
        self.nodes.append(node)
        place.frame.add(node)
        if "name" in item:
            seq.names.entries[str(item["name"])] = node
        return node.ref

    def _item(self, item: LDict, seq: Sequence, prev: Ref | None, loc: Loc) -> Ref | None:
        place = self._place(item, seq, loc)
        if place.named and place.name in seq.names.entries:
            raise NodeError("E202", f"duplicate name '{place.name}' in this sequence",
                            item.loc_of("name"), hint="an unnamed item's name is its index"
                            if place.name.isdigit() else None)
        if place.name in seq.names.entries:  # a module name may be a digit string
            raise NodeError("E202", f"this unnamed item would be called '{place.name}' (its "
                            f"index), the name of an item above", loc,
                            hint="name one of them otherwise")
        # a repeat's `from` is evaluated for each copy (`i`); these are copy 0's sources
        wiring = seq.with_env(dict(seq.env, i=0)) if "repeat" in item else seq
        if "if" in item and not self.eval(item["if"], seq.env, item.loc_of("if"), "if"):
            # a disabled item passes its input through; a `from` it will never read is not
            # an error unless something reads the item by name
            try:
                sources = self.sources(item, wiring, prev)
            except NodeError as exc:
                if place.named:
                    seq.names.entries[place.name] = Disabled(place.name, exc)
                return prev
            passthrough = sources[0] if sources else prev
            if place.named:
                seq.names.entries[place.name] = passthrough
            return passthrough
        sources = self.sources(item, wiring, prev)
        seq.frame.next_index += 1  # a disabled item takes no index (as in nn.Sequential)
        result: Node | Frame
        if "repeat" in item:
            result = self._repeat(item, place, seq, sources)
        else:
            result = self.build(item, place, seq.names, sources, seq.env)
        if "if" in item:  # --emit-python builds it under this condition
            (result.scope if isinstance(result, Frame) else result).exprs["if"] = item["if"]
        seq.names.entries[place.name] = result  # unnamed nodes are reachable by index
        return output_of(result)

    def _place(self, item: LDict, seq: Sequence, loc: Loc) -> Place:
        if "name" not in item:
            return Place(seq.frame, str(seq.frame.next_index), False, loc)
        name = self.eval(item["name"], seq.env, item.loc_of("name"), "name")
        # torch's rule: a submodule, parameter or buffer cannot take the name of an
        # attribute of nn.Module; a functional op is only a value in forward
        op = get_op(item["op"]) if isinstance(item.get("op"), str) else None
        functional = op is not None and op.kind == "function" and "repeat" not in item
        check_name(name, item.loc_of("name"), "node", attribute=not functional)
        return Place(seq.frame, name, True, loc)

    # -- `from` ---------------------------------------------------------------------
    def sources(self, item: LDict, seq: Sequence, prev: Ref | None) -> list[Ref]:
        if "from" not in item and seq.carried:
            return self._eval_reads([prev, *seq.carried], item.loc)
        if "from" not in item:
            if prev is None:
                raise NodeError("E201", "this node has no input: the model declares no "
                                "inputs and it says no `from`", item.loc)
            return self._eval_reads([prev], item.loc)
        raw = item["from"]
        targets = raw if isinstance(raw, list) else [raw]
        refs = []
        for i, target in enumerate(targets):
            loc = raw.loc_of(i) if isinstance(raw, LList) else item.loc_of("from")
            # an entry may be an expression (wiring that depends on `i` or a block param);
            # it picks a name, it never computes a value
            target = self.eval(target, seq.env, loc, "from")
            if target is None:
                continue  # `${None if i == 0 else 'x'}`: this entry is left out
            if isinstance(target, int) and not isinstance(target, bool):
                target = str(target)  # an unnamed node, by its index
            if not isinstance(target, str):
                raise NodeError("E104", f"`from` entries are node names, got {target!r}", loc)
            refs.append(self._eval_reads([self.resolve(target, seq.names, loc,
                                                       seq.later_names)], loc)[0])
        if not refs:  # every entry left out: read the previous item, as without `from`
            return self.sources(without(item, ("from",)), seq, prev)
        return refs

    def _eval_reads(self, refs: list, loc: Loc) -> list:
        """Refuse a value computed in training only as the input of something that also
        runs in eval: in eval it does not exist."""
        if not self.training_only:
            for ref in refs:
                if ref is not None and ref.node.training_only:
                    raise NodeError(
                        "E210", f"reads '{ref}', which runs in training only "
                        "(`training_only: true`), but this node also runs in eval", loc,
                        "mark this node `training_only: true` too, or read a value that "
                        "eval computes as well")
        return refs

    def resolve(self, target: str, ns: Namespace, loc: Loc,
                later: Collection[str] = frozenset()) -> Ref:
        """The value `target` names (`a`, `a.b.c`, `node.output_name`) as seen from `ns`."""
        parts = target.split(".")
        entry = ns.lookup(parts[0])
        if entry is None:
            if parts[0] in later:
                raise NodeError("E201", f"'{parts[0]}' is defined later in this sequence: "
                                "`from` can only name earlier nodes (no cycles)", loc)
            raise NodeError("E201", f"unknown name '{parts[0]}' in `from`", loc,
                            self.suggest(parts[0], ns.visible))
        for depth, part in enumerate(parts[1:], start=1):
            entry = _descend(entry, part, ".".join(parts[:depth]), loc)
        if isinstance(entry, Disabled):
            raise NodeError("E201", f"'{target}' is disabled (its `if` is false) and passes "
                            f"its `from` through, which names nothing: {entry.error}", loc)
        return output_of(entry)

    # -- what one item becomes --------------------------------------------------------
    def build(self, item: LDict, place: Place, ns: Namespace, sources: list[Ref],
              env: dict) -> Node | Frame:
        """The block, nested sequence or op node an item describes, added at `place`."""
        self._no_init_on_container(item)
        if "block" in item:
            return self._block(item, place, sources, env)
        if "layers" in item:
            return self._nested(item, place, ns, sources, env)
        return self._op_node(item, place, sources, env)

    def _claim(self, path: str, loc: Loc) -> None:
        if path in self.paths:
            raise NodeError("E202", f"two modules would be called '{path}' (an inline block "
                            "with named layers, used twice?)", loc)
        self.paths.add(path)

    def _new_frame(self, kind: str, place: Place, input: Ref,
                   block: str | None = None) -> Frame:
        self._claim(place.path, place.loc)
        parent = place.frame
        scope = Scope(place.path, kind, place.loc, attr_name=place.name, parent=parent.scope,
                      block=block, named=place.named, input=input,
                      training_only=self.training_only)
        frame = Frame(scope)
        parent.add(frame)
        return frame

    def _repeat_count(self, item: LDict, env: dict) -> int:
        count = self.eval(item["repeat"], env, item.loc_of("repeat"), "repeat")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise NodeError("E104", f"repeat must be a positive integer, got {count!r}",
                            item.loc_of("repeat"))
        if count > self.limits.max_repeat:
            raise NodeError("E004", f"repeat: {count} is over the limit of "
                            f"{self.limits.max_repeat} (max_repeat)", item.loc_of("repeat"))
        return count

    def _splice_repeat(self, item: LDict, seq: Sequence, prev: Ref | None,
                       loc: Loc) -> Ref | None:
        """An unnamed `repeat`: the copies become items of this sequence, one index each
        (a named inline block's name goes to its last copy: the value it ends with)."""
        count = self._repeat_count(item, seq.env)
        # copies after the first read the previous copy and the first's other inputs (as
        # in a named repeat): a multi-input block repeats
        bodies = {(first, last): without(item, ("repeat",) + (() if first else ("from",))
                                         + (() if last else ("name",)))
                  for first in (True, False) for last in (True, False)}
        for i in range(count):
            body = bodies[i == 0, i == count - 1]
            copy = seq.with_env(dict(seq.env, i=i))
            # `from` is evaluated for each copy, so the wiring may depend on `i`
            copy.carried = self.sources(item, copy, prev)[1:] if i > 0 and "from" in item \
                else []
            prev = self.entry(body, copy, prev, loc)
        return prev

    def _repeat(self, item: LDict, place: Place, seq: Sequence, sources: list[Ref]) -> Frame:
        """A named `repeat`: a sub-sequence whose copies are named 0..n-1 (or repeat_name)."""
        count = self._repeat_count(item, seq.env)
        container = self._new_frame("repeat", place, sources[0])
        container.scope.exprs = expressions(item, ("repeat",))
        body = without(item, ("name", "repeat", "repeat_name", "from", "if", "inline"))
        inner = container.names = Namespace(seq.names)
        prev = sources[0]
        # copies may be copied: a block is closed (it reads its inputs only) and an op reads
        # its sources; a nested `layers:` may read values around it by name, and one of
        # them may be its input too, so it is expanded copy by copy
        alike = COPY_REPEATS and count > 1 and "layers" not in body and not reads_i(body)
        template: Template | None = None
        for i in range(count):
            self.step(place.loc)
            child_env = dict(seq.env, i=i)
            child_name = str(i)
            if "repeat_name" in item:
                child_name = self.eval(item["repeat_name"], child_env,
                                       item.loc_of("repeat_name"), "repeat_name")
                check_name(child_name, item.loc_of("repeat_name"), "repeat_name")
            child = Place(container, child_name, False, place.loc)
            if i > 0 and "from" in item:  # `from` is evaluated for each copy (`i`)
                sources = self.sources(item, seq.with_env(child_env), prev)
            inputs = [prev] + sources[1:]
            result = None if template is None else template.copy(self, child, inputs)
            if result is None:
                template = None  # one refusal is enough: the rest are expanded as well
                marks = len(self.nodes), len(self.diagnostics), self.steps
                result = self.build(body, child, inner, inputs, child_env)
                if i == 0 and alike and len(self.diagnostics) == marks[1] \
                        and Template.usable(inputs):
                    template = Template(result, child.path, inputs, self.nodes[marks[0]:],
                                        self.steps - marks[2])
            inner.entries[child_name] = result
            prev = output_of(result)
        container.scope.output = prev
        return container

    def _inline(self, item: LDict, seq: Sequence, prev: Ref | None) -> Ref | None:
        """`inline: true`: splice the block's layers (× repeat) into this sequence. A name
        makes no module: it names the block's output (and `name.skip` its `outputs:`)."""
        name = None
        if "name" in item:
            name = self._place(item, seq, item.loc).name
            if name in seq.names.entries:
                raise NodeError("E202", f"duplicate name '{name}' in this sequence",
                                item.loc_of("name"))
        if "if" in item and not self.eval(item["if"], seq.env, item.loc_of("if"), "if"):
            if name is not None:
                seq.names.entries[name] = prev
            return prev
        if item.get("checkpoint"):
            raise NodeError("E207", "an inline block has no module of its own to checkpoint",
                            item.loc_of("checkpoint"), "drop inline: or checkpoint:")
        self._no_init_on_container(item)
        sources = self.sources(item, seq, prev)
        first_node = len(self.nodes)
        with self._block_use(item, sources, seq.env) as (definition, block_env, block_ns):
            names = Namespace(block_ns)
            last = self.sequence(definition.get("layers") or LList(), seq.frame, block_ns,
                                 sources[0], block_env, names)
            out, by_name, _ = self._declared_outputs(definition, names, last)
            self._in_caller_names(item, definition, block_env, seq, first_node)
        out = out or sources[0]
        if name is not None:
            seq.names.entries[name] = Inline(out, names, by_name)
        return out

    def _in_caller_names(self, item: LDict, definition: LDict, block_env: dict,
                         seq: Sequence, first_node: int) -> None:
        """The expressions of an inline block's layers (nodes since ``first_node``, and
        the containers they are in) rewritten in the names of the sequence it joins: each
        block param replaced by what the use gives it (``buckets: ${n // 2}``: ``${n //
        2}``; a plain or default value: that value), so --emit-python computes them where
        they are. A var the caller's names shadow (a param of its block with the same
        name) makes an expression reading it a literal there (its value: no code)."""
        params = list(definition.get("params") or ())
        given: dict = {name: item[name] if name in item and "$" in str(item[name]) else
                       block_env[name] for name in params}
        for name, value in definition.get("params", {}).items():  # a default expression:
            if name not in item and isinstance(value, str) and "$" in value:  # no code here
                given[name] = _UNWRITABLE
        given.update((name, _UNWRITABLE) for name, value in self.vars.items()
                     if name not in given and seq.env.get(name, value) is not value)
        rewritten: set = set()

        def rewrite(exprs: dict, values: dict) -> None:
            """``values``: what the expressions gave (a constant item of a list is it)."""
            for key in list(exprs):
                value = substitute(exprs[key], given)
                if isinstance(value, list):
                    had = values.get(key)
                    value = [v if v is not None else had[i] if isinstance(had, list) and
                             len(had) == len(value) else _UNWRITABLE
                             for i, v in enumerate(value)]
                    if _UNWRITABLE in value or not any(isinstance(v, str) and "$" in v
                                                       for v in value):
                        value = None
                if value is None:
                    del exprs[key]
                else:
                    exprs[key] = value

        for node in self.nodes[first_node:]:
            chain, scope = [], node.scope
            while scope is not None and scope is not seq.frame.scope:
                chain.append(scope)
                scope = scope.parent
            blocks = [index for index, around in enumerate(chain) if around.kind == "block"]
            if blocks:  # in a block used inside: its arguments are in these names
                chain = chain[blocks[-1]:blocks[-1] + 1]
            else:
                rewrite(node.exprs, node.attrs)
            for around in chain:
                if id(around) not in rewritten:
                    rewritten.add(id(around))
                    rewrite(around.exprs, around.params)

    def _declared_outputs(self, spec: LDict, names: Namespace,
                          last: Ref | None) -> tuple[Ref | None, dict, list[Ref]]:
        """A block's or nested sequence's `output:` / `outputs:`, resolved in its names:
        (its main output, the outputs by position "0", "1", … and by name, in order)."""
        single, several = spec.get("output"), spec.get("outputs")
        if single is not None and several is not None:
            raise NodeError("E207", "give `output:` (one) or `outputs:` (several), not both",
                            spec.loc_of("outputs"))
        if single is not None:
            return self._eval_reads([self.resolve(str(single), names, spec.loc_of("output"))],
                                    spec.loc_of("output"))[0], {}, []
        if not several:
            return last, {}, []
        as_dict = isinstance(several, dict)
        pairs = list(several.items()) if as_dict else [(str(t), t) for t in several]
        ordered = [self.resolve(str(target), names, several.loc_of(key if as_dict else i))
                   for i, (key, target) in enumerate(pairs)]
        # the main output is what the container's readers get in eval too; the others may
        # be training-only (an aux head's logits), and then only training-only nodes read them
        self._eval_reads(ordered[:1], several.loc_of(pairs[0][0] if as_dict else 0))
        by_name = {str(i): ref for i, ref in enumerate(ordered)}  # positions win over names
        for (key, _), ref in zip(pairs, ordered, strict=True):
            by_name.setdefault(key, ref)
        return ordered[0], by_name, ordered

    def _no_init_on_container(self, item: LDict) -> None:
        """`init:` belongs to a layer: on a block use or a `layers:` group it would have to
        guess which of the layers inside it means (a bias-free conv, a norm, an activation).
        Reported, never ignored; the layers themselves are still expanded and checked."""
        if "init" in item and ("block" in item or "layers" in item):
            what = "a block use" if "block" in item else "a `layers:` group"
            self.report("E106", f"init: on {what} does not apply to its layers", item.loc_of("init"),
                        hint="write init: on the layers inside (a block parameter can carry "
                             "it: std: $std), or per op type in the spec's top-level init:")

    @contextmanager
    def _block_use(self, item: LDict, sources: list[Ref], env: dict):
        """Check a block use and expand it: yields (definition, its variables, the names its
        layers see), with the block on the recursion stack until the `with` ends."""
        block_name = item["block"]
        blocks = self.doc.get("blocks") or LDict()
        if block_name not in blocks:
            raise NodeError("E204", f"unknown block '{block_name}'", item.loc_of("block"),
                            self.suggest(block_name, blocks) or
                            f"blocks defined: {', '.join(blocks) or 'none'}")
        if block_name in self.block_stack:
            chain = " → ".join(self.block_stack + [block_name])
            raise NodeError("E206", f"block '{block_name}' uses itself ({chain})",
                            item.loc_of("block"))
        definition = blocks[block_name]
        params = self._block_params(item, block_name, definition, env)
        input_names = list(definition.get("inputs") or ["x"])
        if len(sources) != len(input_names):
            raise NodeError("E207", f"block '{block_name}' takes {len(input_names)} input(s) "
                            f"({', '.join(input_names)}), got {len(sources)}",
                            item.loc_of("from") if "from" in item else item.loc)
        ns = Namespace()  # blocks are closed: they see only their own inputs
        for input_name, ref in zip(input_names, sources, strict=True):
            ns.entries[input_name] = ref
        self.block_stack.append(block_name)
        try:
            yield definition, dict(self.vars, **params), ns
        finally:
            self.block_stack.pop()

    def _nested(self, item: LDict, place: Place, ns: Namespace, sources: list[Ref],
                env: dict) -> Frame:
        container = self._new_frame("sequence", place, sources[0])
        last = self.sequence(item["layers"], container, ns, sources[0], env)
        assert container.names is not None  # set by self.sequence
        out, container.outputs, container.scope.outputs = self._declared_outputs(
            item, container.names, last)
        container.scope.output = out or sources[0]
        return container

    def _block(self, item: LDict, place: Place, sources: list[Ref], env: dict) -> Frame:
        with self._block_use(item, sources, env) as (definition, block_env, block_ns):
            container = self._new_frame("block", place, sources[0], block=item["block"])
            container.scope.params = {key: block_env[key]
                                      for key in definition.get("params") or ()}
            container.scope.exprs = expressions(item, [k for k in item if k not in NODE_KEYS])
            container.scope.checkpoint = item.get("checkpoint") is True
            last = self.sequence(definition.get("layers") or LList(), container, block_ns,
                                 sources[0], block_env)
        assert container.names is not None  # set by self.sequence
        out, container.outputs, container.scope.outputs = self._declared_outputs(
            definition, container.names, last)
        container.scope.output = out or sources[0]
        if "module_order" in definition:
            container.scope.module_order = self._module_order(item["block"], definition,
                                                              container.scope)
        return container

    def _module_order(self, block_name: str, definition: LDict, scope: Scope) -> list[str]:
        """The block's `module_order`: names of its modules, parameters, buffers and nested
        sequences, in the order to register them (the state_dict order) where that differs
        from the order they run in (torchvision's PatchMerging registers `reduction`, then
        `norm`, and runs norm first). A name the block's layers do not define is E201, once
        per block; a layer switched off by `if` is skipped."""
        order = definition["module_order"]
        loc = definition.loc_of("module_order")
        defined = {str(layer["name"]) for layer in definition.get("layers") or []
                   if isinstance(layer, dict) and "name" in layer}
        present = {item.attr_name: item for item in scope.items}
        functional = [name for name in order if _is_function(present.get(name))]
        problem = None
        if len(set(order)) != len(order):
            problem = ("E202", "module_order names a layer twice")
        elif any(name not in defined for name in order):
            unknown = next(name for name in order if name not in defined)
            problem = ("E201", f"module_order names '{unknown}', which is not a layer of "
                               f"block '{block_name}'")
        elif functional:
            problem = ("E201", f"module_order names '{functional[0]}', a functional op: it "
                               "registers nothing")
        if problem is not None:
            if block_name not in self.bad_module_orders:
                self.bad_module_orders.add(block_name)
                self.report(problem[0], problem[1], loc)
            return []
        return [name for name in order if name in present]

    def _block_params(self, item: LDict, block_name: str, definition: LDict, env: dict) -> dict:
        declared = definition.get("params") or LDict()
        values = {}
        for key, value in item.items():
            if key in NODE_KEYS:
                continue
            if key not in declared:
                raise self.unknown_parameter(
                    "E205", f"block '{block_name}' has no parameter", key,
                    item.key_locs.get(key, item.loc), declared,
                    [name for name, default in declared.items()
                     if default is None and name not in item])
            values[key] = self.eval(value, env, item.loc_of(key), key)
        for key, default in declared.items():
            if key not in values:
                if default is None:
                    raise NodeError("E205", f"block '{block_name}' needs parameter '{key}'",
                                    item.loc)
                values[key] = self.eval(default, dict(self.vars, **values),
                                        declared.loc_of(key), key)
        return values

    def _op_node(self, item: LDict, place: Place, sources: list[Ref], env: dict) -> Node:
        op_name = item.get("op")
        op = get_op(op_name) if isinstance(op_name, str) else None
        if op is None:
            raise NodeError("E102", f"unknown op {op_name!r}", item.loc_of("op"),
                            self.suggest(op_name, _all_op_names))
        attrs, given, attr_locs = self._op_attrs(op, item, env)
        low, high = op.n_inputs
        if not (low <= len(sources) and (high is None or len(sources) <= high)):
            if low == 0:
                sources = []  # a source op (`parameter`) ignores the previous node
            else:
                want = f"{low}" if low == high else f"{low} to {high or 'any number of'}"
                raise NodeError("E307", f"{op.name} takes {want} input(s), got {len(sources)}",
                                item.loc_of("from") if "from" in item else place.loc)
        tie = self.eval(item["tie"], env, item.loc_of("tie"), "tie") if "tie" in item else None
        if tie is not None:
            if not isinstance(tie, str):
                raise NodeError("E104", f"tie must be a module path such as "
                                f"model.embed_tokens, got {tie!r}", item.loc_of("tie"))
            attr_locs["tie"] = item.loc_of("tie")
        self._claim(place.path, place.loc)
        init, init_locs = self.node_init(item, op.name, env)
        attr_locs.update(init_locs)
        node = Node(place.path, op.name, attrs, list(sources), place.loc,
                    scope=place.frame.scope, attr_name=place.name, named=place.named,
                    given=given, attr_locs=attr_locs, init=init,
                    output_names=op.output_names(attrs), tie=tie,
                    training_only=self.training_only,
                    exprs=expressions(item, [k for k in item if k not in NODE_KEYS]
                                      + ["tie"]))  # --emit-python ties by it
        self.nodes.append(node)
        place.frame.add(node)
        return node

    def _op_attrs(self, op, item: LDict, env: dict):
        """(attributes with defaults filled in, names the spec gave, their locations)."""
        attrs, given, attr_locs = {}, set(), {}
        for key, value in item.items():
            if key in NODE_KEYS:
                continue
            param = op.param(key)
            vloc = item.loc_of(key)
            if param is None:
                raise self.unknown_parameter(
                    "E103", f"{op.name} has no parameter", key, item.key_locs.get(key, vloc),
                    op.param_map, [p.name for p in op.params if p.default is REQUIRED
                                   and not p.inferred and p.name not in item])
            value = self.eval(value, env, vloc, key)
            if param.type == "shape" and isinstance(value, list):  # --dim binds symbols here too
                self.symbols |= {v for v in value if isinstance(v, str)}
                value = [self.dims.get(v, v) if isinstance(v, str) else v for v in value]
            elif param.type == "optintsym" and isinstance(value, str):  # slice's end: T
                self.symbols.add(value)
                value = self.dims.get(value, value)
            expected = check_value(param.type, param.choices, value)
            if expected is not None:
                raise NodeError("E104", f"{op.name}.{key} must be {expected}, got {value!r}",
                                vloc)
            attrs[key], attr_locs[key] = value, vloc
            given.add(key)
        for param in op.params:
            if param.name not in attrs:
                if param.default is REQUIRED and not param.inferred:
                    raise NodeError("E105", f"{op.name} needs parameter '{param.name}'",
                                    item.loc)
                attrs[param.name] = None if param.default is REQUIRED else param.default
        return attrs, given, attr_locs

    def node_init(self, item: LDict, op_name: str, env: dict) -> tuple:
        """(the `init:` entry that applies to an op node, the locations the check after
        inference points at): its own, else its op type's from the spec's `init:`."""
        if "init" not in item:
            return self.init_by_op.get(op_name, (None, {}))
        return self.read_init(item["init"], env, item.loc_of("init"), "init")

    def read_init(self, raw, env: dict, loc: Loc, what: str) -> tuple:
        """An `init:` entry with its expressions evaluated (`std: ${1 / width}`) and read as
        an initialiser (specc.initializers): (entry, locations), or (None, {}) with the
        problem reported, so the layer itself is still checked."""
        try:
            value = self.eval_tree(raw, env, loc, what)
            parse_init(value)
        except NodeError as exc:
            self.report(exc.code, str(exc), exc.loc, hint=exc.hint)
            return None, {}
        except InitEntryError as exc:
            at = loc
            for key in exc.path:  # point at the key of the mistake
                if not isinstance(raw, LDict) or key not in raw:
                    break
                raw, at = raw[key], raw.loc_of(key)
            self.report(exc.code, f"{what}: {exc}", at)
            return None, {}
        locs = {"init": loc}
        if isinstance(raw, LDict):
            locs.update({f"init.{t}": raw.loc_of(t) for t in INIT_TENSORS if t in raw})
        return value, locs

    def eval_tree(self, value, env: dict, loc: Loc, what: str):
        """Evaluate every expression in nested mappings."""
        if not isinstance(value, dict):
            return self.eval(value, env, loc, what)
        out = {}
        for key, entry in value.items():
            where = value.loc_of(key) if isinstance(value, LDict) else loc
            out[key] = self.eval_tree(entry, env, where, f"{what}.{key}")
        return out

    def eval(self, value, env: dict, loc: Loc, what: str):
        try:
            if isinstance(value, list):
                return [self.eval(v, env, loc, what) for v in value]
            return evaluate(value, env)
        except ExprError as exc:
            if exc.offset is not None and loc.line:  # point into the expression itself
                loc = loc.replace(col=loc.col + exc.offset)
            raise NodeError("E207", f"in {what}: {exc}", loc) from None


_UNWRITABLE = object()  # a name an expression cannot be written in (see _in_caller_names)


def expressions(item: LDict, keys) -> dict:
    """key -> the item's text for it, for the keys whose value is an expression (or a list
    holding one): what --emit-python writes in place of the value."""
    def has_expression(value) -> bool:
        if isinstance(value, list):
            return any(has_expression(v) for v in value)
        return isinstance(value, str) and "$" in value

    return {key: item[key] for key in keys if key in item and has_expression(item[key])}


def _is_function(item) -> bool:
    """A functional op's node: it computes a value and registers nothing."""
    op = get_op(item.op) if isinstance(item, Node) else None
    return op is not None and op.kind == "function"


def _descend(entry, part: str, prefix: str, loc: Loc):
    """`prefix.part`: a declared output or a part of a container (or of a named inline
    block), or a named output of a node."""
    if isinstance(entry, Inline):
        if part in entry.outputs:
            return entry.outputs[part]
        if part in entry.names.entries:
            return entry.names.entries[part]
        raise NodeError("E201", f"'{prefix}' (an inline block) has no output or layer named "
                        f"'{part}'", loc, suggest(part, [*entry.outputs, *entry.names.entries]))
    if isinstance(entry, Frame):
        if part in entry.outputs:
            return entry.outputs[part]
        if entry.names is not None and part in entry.names.entries:
            return entry.names.entries[part]
        if part in entry.parts:
            return entry.parts[part]
        raise NodeError("E201", f"'{prefix}' has no part named '{part}'", loc,
                        suggest(part, [*entry.outputs, *entry.parts]))
    if isinstance(entry, Node):
        if part in entry.output_names:
            return Ref(entry, entry.output_names.index(part))
        raise NodeError("E209", f"'{prefix}' ({entry.op}) has no output '{part}' "
                        f"(outputs: {', '.join(entry.output_names)})", loc,
                        suggest(part, entry.output_names))
    raise NodeError("E201", f"'{prefix}' is a pass-through (its `if` is false) and has "
                    f"no part '{part}'", loc)


def _all_op_names():
    from specc.ops.base import all_ops

    return all_ops().keys()
