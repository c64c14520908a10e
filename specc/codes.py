"""Every diagnostic code specc reports, in one table: code, name, severity, summary,
explanation and hint.

It sits below every stage and imports nothing from specc, so the loader, the schema, the
expander, the ops' shape rules and the lint rules all name their findings by the same
objects. `specc explain CODE`, `specc rules`, docs/errors.md and SARIF read it from here.

- E0xx: reading the file (load)        E1xx: the schema (validate)
- E2xx: names, blocks, expressions     E3xx: shape and dtype inference (infer)
- L1xx: configurations torch rejects at build or run time: shape inference finds them, and
        they are errors that `--ignore` / `--select` can never switch off
- L2xx: the model's outputs and loss   L3xx: the architecture   L001: suppression comments

A lint rule's check function lives in specc/lint/rules/ and is registered against its code
here (`@rule(codes.BIAS_BEFORE_NORM)`); a shape rule raises with its code object
(`ctx.fail(..., code=codes.GROUPS_NOT_DIVISIBLE)`).
"""
from __future__ import annotations

SEVERITIES = ("info", "warning", "error")


class Code:
    """One diagnostic code of the table. Each is made once, by :func:`_declare`, so one is
    equal only to itself. (A plain class, not a dataclass: see specc/values.py; this module
    imports nothing from specc.)"""

    __slots__ = ("code", "name", "severity", "summary", "explanation", "hint",
                 "torch_rejects", "output_kept")

    def __init__(self, code: str, name: str, severity: str, summary: str,
                 explanation: str = "", hint: str = "", torch_rejects: bool = False,
                 output_kept: bool = False):
        self.code = code  # E### or L###
        self.name = name  # kebab-case, unique
        self.severity = severity  # one of SEVERITIES
        self.summary = summary  # one line
        # a paragraph; for lint rules, then a Bad: and a Good: example
        self.explanation = explanation
        self.hint = hint  # how to fix it, when the message does not say
        # torch itself refuses this (at construction or on the first call): it is an
        # error however rules are selected
        self.torch_rejects = torch_rejects
        # the parameter at fault does not change the node's output shape (a given size
        # that disagrees, groups or heads that do not divide, a dropout p out of range):
        # inference re-infers the node with that parameter neutral and goes on, so one
        # run reports every independent error after it too
        self.output_kept = output_kept

    def __repr__(self) -> str:
        return f"Code({self.code} {self.name})"

    @property
    def is_rule(self) -> bool:
        """Lint rules (L###) can be selected by code, prefix or name; E### cannot."""
        return self.code.startswith("L")

    @property
    def can_disable(self) -> bool:
        return self.is_rule and not self.torch_rejects

    def to_json(self) -> dict:
        return {"code": self.code, "name": self.name, "severity": self.severity,
                "summary": self.summary, "explanation": self.explanation, "hint": self.hint,
                "can_disable": self.can_disable}


CODES: dict[str, Code] = {}


def _declare(code: str, name: str, severity: str, summary: str, explanation: str = "",
             hint: str = "", torch_rejects: bool = False, output_kept: bool = False) -> Code:
    if code in CODES or any(c.name == name for c in CODES.values()):
        raise ValueError(f"code {code} {name} declared twice")
    entry = Code(code, name, severity, summary, explanation.strip(), hint, torch_rejects,
                 output_kept)
    CODES[code] = entry
    return entry


def lookup(key: str) -> Code | None:
    """A code by its code (`L301`, `e104`) or its name (`bias-before-norm`)."""
    key = key.strip()
    found = CODES.get(key.upper())
    if found is not None:
        return found
    return next((c for c in CODES.values() if c.name == key.lower()), None)


# -- load ---------------------------------------------------------------------------------
UNREADABLE = _declare("E000", "unreadable-file", "error", "the file cannot be read",
                      "The path does not exist, is a directory, or cannot be opened.")
INVALID_YAML = _declare("E001", "invalid-yaml", "error", "invalid YAML",
                        "libyaml could not parse the file; the position is where it stopped.")
DUPLICATE_KEY = _declare("E002", "duplicate-key", "error", "duplicate mapping key",
                         "A mapping names the same key twice. YAML loaders keep the last one "
                         "silently; specc refuses, because one of the two is a mistake.")
YAML_TAG = _declare("E003", "yaml-tag", "error", "YAML tag (specs are plain data)",
                    "Tags such as !!python/object construct objects; a spec is data and can "
                    "never run code, so every tag is refused.")
RESOURCE_LIMIT = _declare("E004", "resource-limit", "error", "a resource limit was exceeded",
                          "The spec crossed one of the limits that stop hostile or mistaken "
                          "input (file size, YAML nodes, nesting, graph nodes, repeat, tensor "
                          "size). It exits 2; the limits are configurable (docs/errors.md).")
NOT_TEXT = _declare("E005", "not-text", "error", "the file is not UTF-8/UTF-16 text",
                    "Specs are text files in UTF-8 (or UTF-16 with a byte-order mark).")
EMPTY_FILE = _declare("E006", "empty-file", "error", "empty file",
                      "The file holds no YAML document.")
MANY_DOCUMENTS = _declare("E007", "many-documents", "error", "more than one YAML document",
                          "A spec is one YAML document; `---` starts a second one.")
INCLUDE = _declare("E008", "include", "error", "an `include:` entry cannot be included",
                   "`include:` names files whose `blocks:` join the spec's. A path is relative "
                   "to the including file's folder and stays below it (no absolute path, no "
                   "`..`, no symbolic link leading out); it names a readable .yaml/.yml file "
                   "that holds `blocks:` (and `include:`) only; files may not include each "
                   "other in a cycle, and a block name is defined once across them all.")
PLUGIN_LOAD = _declare("E010", "plugin-load", "error",
                       "a plugin named by the configuration cannot be loaded",
                       "A plugin module listed in `plugins` (or an enabled `specc.ops` entry "
                       "point) failed to import, its specc_ops() raised or returned something "
                       "other than OpDefs, a declaration is unsound, or an op name clashes "
                       "with specc's or another plugin's (docs/plugins.md).")

# -- validate -------------------------------------------------------------------------------
SCHEMA = _declare("E101", "schema", "error", "the document does not match the spec schema",
                  "A key or value does not fit the JSON Schema of specs "
                  "(`specc schema` prints it).")
UNKNOWN_OP = _declare("E102", "unknown-op", "error", "unknown op",
                      "`op:` names no op specc knows; docs/ops.md lists them.")
UNKNOWN_PARAMETER = _declare("E103", "unknown-parameter", "error", "unknown parameter or key",
                             "The op (or the spec) has no parameter of that name. When "
                             "the name misspells a required parameter that is missing "
                             "(`out_featurs` for `out_features`), this one error says both: "
                             "there is no E105 for the same typo.")
BAD_VALUE = _declare("E104", "bad-value", "error", "a value has the wrong type or range",
                     "The value does not fit the parameter's type (docs/ops.md).")
MISSING_VALUE = _declare("E105", "missing-value", "error",
                         "a required parameter or key is missing",
                         "The op needs this parameter and specc cannot infer it. A "
                         "misspelling of it given instead is reported once, as E103 (or "
                         "E205 for a block's parameter), naming both.")
BAD_INIT = _declare("E106", "bad-init", "error", "an `init:` entry torch.nn.init cannot apply",
                    "An unknown init method, a mapping that mixes tensor names with a method, "
                    "a tensor the layer does not have (a bias with `bias: false`, a weight on "
                    "a layer without one), a method torch refuses for the tensor's rank "
                    "(kaiming, xavier and orthogonal need 2 or more dims: never a bias), or "
                    "`init:` on a block use or a `layers:` group (write it on the layers). "
                    "The entry forms and methods are in docs/spec-language.md.")

# -- expand ---------------------------------------------------------------------------------
UNKNOWN_NAME = _declare("E201", "unknown-name", "error",
                        "a `from` or output names nothing defined before it",
                        "`from:` and `outputs:` can name inputs and earlier nodes only (so "
                        "the graph has no cycles); inside a block, only the block's inputs "
                        "and its own layers.")
DUPLICATE_NAME = _declare("E202", "duplicate-name", "error", "duplicate name",
                          "Two nodes of one sequence (or two modules of one path) share a "
                          "name.")
INVALID_NAME = _declare("E203", "invalid-name", "error", "invalid or reserved name",
                        "Node names become module attribute names and state_dict keys.")
UNKNOWN_BLOCK = _declare("E204", "unknown-block", "error", "unknown block",
                         "`block:` names no entry of `blocks:`.")
BLOCK_PARAMETER = _declare("E205", "block-parameter", "error",
                           "block parameter missing or unknown",
                           "A block use passes a parameter the block does not declare, or "
                           "leaves out one without a default (a misspelling of that one is "
                           "one error, naming both).")
RECURSIVE_BLOCK = _declare("E206", "recursive-block", "error", "a block uses itself",
                           "A block that uses itself, directly or through others, would "
                           "expand forever.")
BAD_EXPRESSION = _declare("E207", "bad-expression", "error",
                          "an expression cannot be evaluated",
                          "A `${…}` expression or `$var` has an error, names an unknown "
                          "variable, or is used where it cannot be.")
UNKNOWN_OUTPUT = _declare("E209", "unknown-output", "error",
                          "a multi-output op has no output of that name",
                          "`node.name` picks one output of a multi-output op (LSTM: output, "
                          "h_n, c_n); the op has no output of that name.")
TRAINING_ONLY_READ = _declare("E210", "training-only-read", "error",
                              "an eval value reads one computed in training only",
                              "An item with `training_only: true` (an aux head) runs only when "
                              "the module is training, so nothing that also runs in eval may "
                              "read it: not a later node, not a block's `output:`. Outputs may "
                              "name it (returned in training only), but not every output.",
                              "mark the reader `training_only: true` too")

# -- infer ----------------------------------------------------------------------------------
SHAPE_MISMATCH = _declare("E301", "shape-mismatch", "error", "shapes do not fit together",
                          "The op cannot take an input of this shape (rank, sizes, or "
                          "inputs that must agree).")
SIZE_DISAGREES = _declare("E302", "size-disagrees", "error",
                          "a given size (in_channels, in_features, …) disagrees with the input",
                          "Sizes that specc infers from the input may be written out, but "
                          "then they must match it.", output_kept=True)
NONPOSITIVE_SIZE = _declare("E303", "nonpositive-size", "error",
                            "a size becomes zero or negative",
                            "The input is too small for the kernel, stride or padding.")
NEEDS_CONCRETE = _declare("E304", "needs-concrete", "error",
                          "a size must be concrete but is symbolic",
                          "This op needs a concrete size where the input has a symbol: bind "
                          "it with --dim SYM=VALUE or give the parameter explicitly.")
WRONG_DTYPE = _declare("E305", "wrong-dtype", "error", "wrong dtype",
                       "The op needs another dtype (floating point, or integer indices).")
TORCH_REJECTS = _declare("E306", "torch-rejects", "error",
                         "a configuration torch rejects",
                         "torch raises when it builds or runs this op with these arguments.")
INPUT_COUNT = _declare("E307", "input-count", "error", "wrong number of inputs",
                       "The op takes another number of inputs than `from:` gives it.")
PLUGIN_RULE = _declare("E308", "plugin-rule", "error",
                       "a plugin op's rule raised or returned a wrong value",
                       "The shape rule, count_params or macs of a plugin op raised, or returned "
                       "something other than a list of TensorType / a non-negative integer; "
                       "the message names the plugin (docs/plugins.md).")

# -- build --------------------------------------------------------------------------------
EXPORT_UNTRACEABLE = _declare("E401", "export-untraceable", "error",
                              "`build --export` / `--onnx`: the exporter cannot trace the model",
                              "torch.export could not trace the generated module (for example "
                              "a model that packs sequences by their lengths).")
EXPORT_SPECIALISED = _declare("W401", "export-specialised", "warning",
                              "`build --export`: torch.export fixed a symbolic dim to its "
                              "example size",
                              "A dim declared symbolic became a constant in the exported "
                              "program; the message names the node whose code fixed it.")

# -- lint rules -----------------------------------------------------------------------------
UNUSED_SUPPRESSION = _declare(
    "L001", "unused-suppression", "warning",
    'a `# specc: ignore[...]` comment that suppresses nothing',
    """
A suppression comment that matches no finding on its line is noise at best, and at worst
a typo that hides nothing while looking as if it did (`ignore[bias-befor-norm]`).

Bad:   - {op: Conv2d, out_channels: 8, kernel_size: 3, bias: false}  # specc: ignore[bias-before-norm]
Good:  - {op: Conv2d, out_channels: 8, kernel_size: 3, bias: false}
""",
    'remove the comment, or fix the rule name')

PADDING_SAME_STRIDED = _declare(
    "L101", "padding-same-strided", "error",
    "padding='same' on a strided convolution",
    """
torch only supports padding='same' when stride is 1: the output of a strided conv cannot
have the input's size. torch raises at construction.

Bad:   {op: Conv2d, out_channels: 64, kernel_size: 3, stride: 2, padding: same}
Good:  {op: Conv2d, out_channels: 64, kernel_size: 3, stride: 2, padding: 1}
""",
    'use an explicit padding such as (kernel_size - 1) // 2',
    torch_rejects=True)

GROUPS_NOT_DIVISIBLE = _declare(
    "L102", "groups-not-divisible", "error",
    'channels not divisible by groups',
    """
A grouped convolution splits its input and output channels into `groups` equal parts, and
GroupNorm splits its channels into `num_groups`; torch raises when they do not divide.

Bad:   {op: Conv2d, out_channels: 30, kernel_size: 3, groups: 4}   # on 64 input channels
Good:  {op: Conv2d, out_channels: 32, kernel_size: 3, groups: 4}
""",
    'make in_channels and out_channels multiples of groups',
    torch_rejects=True, output_kept=True)

HEADS_NOT_DIVISIBLE = _declare(
    "L103", "heads-not-divisible", "error",
    'embedding size not divisible by the number of heads',
    """
MultiheadAttention and the Transformer layers split embed_dim / d_model evenly across the
heads; torch raises "embed_dim must be divisible by num_heads".

Bad:   {op: MultiheadAttention, embed_dim: 100, num_heads: 8}
Good:  {op: MultiheadAttention, embed_dim: 128, num_heads: 8}
""",
    'choose num_heads that divides the embedding size',
    torch_rejects=True, output_kept=True)

DROPOUT_P_RANGE = _declare(
    "L104", "dropout-p-range", "error",
    'dropout probability outside [0, 1]',
    """
A dropout probability is a probability: torch raises a ValueError for p < 0 or p > 1
(Dropout layers, and the dropout of RNNs, attention and Transformer layers).

Bad:   {op: Dropout, p: 50}
Good:  {op: Dropout, p: 0.5}
""",
    'write the probability as a number between 0 and 1',
    torch_rejects=True, output_kept=True)

SOFTMAX_WITHOUT_DIM = _declare(
    "L105", "softmax-without-dim", "error",
    'Softmax / LogSoftmax without an explicit dim',
    """
Without `dim`, torch picks one from the input's rank (and warns that this is deprecated):
dim 0 for 0-, 1- and 3-D inputs, which on a batch normalises across samples.

Bad:   - Softmax
Good:  - {op: Softmax, dim: 1}
""",
    'give dim, usually -1 or 1 (the class dimension)')

EMBEDDING_FLOAT_INPUT = _declare(
    "L106", "embedding-float-input", "error",
    'Embedding fed with a floating-point tensor',
    """
Embedding looks rows up by integer index; torch raises for float input. Token ids must be
declared as integers.

Bad:   inputs: {tokens: {shape: [N, T]}}                 # float32 by default
Good:  inputs: {tokens: {shape: [N, T], dtype: int64}}
""",
    'declare the input with dtype: int64',
    torch_rejects=True)

SOFTMAX_BEFORE_LOSS = _declare(
    "L201", "softmax-before-loss", "warning",
    'the output activation does not fit the loss',
    """
Each loss expects one kind of output. cross_entropy and bce_with_logits take raw logits and
normalise them themselves (log_softmax, sigmoid): feeding them probabilities squashes the
gradients. nll, kl_div and ctc take log-probabilities (LogSoftmax) and do not normalise
anything. Multi-label bce takes independent probabilities (Sigmoid), not a softmax.
LogSoftmax before cross_entropy is redundant rather than wrong.

Bad:   loss: cross_entropy      layers: [..., {op: Linear, out_features: 10}, {op: Softmax, dim: 1}]
Good:  loss: cross_entropy      layers: [..., {op: Linear, out_features: 10}]
Good:  loss: nll                layers: [..., {op: Linear, out_features: 10}, {op: LogSoftmax, dim: 1}]
""",
    'output raw logits for cross_entropy / bce_with_logits; LogSoftmax for nll, kl_div, ctc; Sigmoid for multi-label bce')

DOUBLE_SOFTMAX = _declare(
    "L202", "double-softmax", "warning",
    'two softmax / log_softmax / sigmoid in a row',
    """
Applying a softmax (or sigmoid) to something that is already a probability distribution
flattens it towards uniform and kills the gradient.

Bad:   [{op: Softmax, dim: 1}, {op: Softmax, dim: 1}]
Good:  [{op: Softmax, dim: 1}]
""",
    'remove one of them')

MISSING_SIGMOID_FOR_BCE = _declare(
    "L203", "missing-sigmoid-for-bce", "warning",
    'bce on an output that is not bounded to [0, 1]',
    """
BCELoss takes probabilities; on unbounded values it raises at run time (or produces nan).
Either end the model with Sigmoid, or (better, numerically) keep the logits and use
bce_with_logits.

Bad:   loss: bce               layers: [..., {op: Linear, out_features: 1}]
Good:  loss: bce_with_logits   layers: [..., {op: Linear, out_features: 1}]
""",
    'use loss: bce_with_logits, or end with Sigmoid')

ACTIVATION_ON_OUTPUT = _declare(
    "L204", "activation-on-output", "warning",
    'a range-restricting activation on logits or a regression output',
    """
Logits and regression targets range over all reals. A ReLU (or ReLU6, Tanh, Softplus, …)
on the output makes negative values impossible and gives zero gradient to every sample
whose output it clips.

Bad:   loss: cross_entropy   layers: [..., {op: Linear, out_features: 10}, ReLU]
Good:  loss: cross_entropy   layers: [..., {op: Linear, out_features: 10}]
""",
    'remove the activation after the last layer')

LOSS_TASK_MISMATCH = _declare(
    "L205", "loss-task-mismatch", "warning",
    'a classification loss on a regression task, or the other way round',
    """
`task:` says what the model predicts; the loss must fit it. Mean-squared error on class
labels, or cross-entropy on continuous targets, is almost always a mistake.

Without `task:`, the head says it: a Softmax over classes is a classification head, whatever
the loss. (bce on a Sigmoid output under `task: regression` is a [0, 1] reconstruction and
fine.)

Bad:   task: regression       loss: cross_entropy
Good:  task: regression       loss: mse
""",
    'change the loss or the task: cross_entropy on raw logits for classes, mse/l1 for values')

DROPOUT_ON_OUTPUT = _declare(
    "L206", "dropout-on-output", "warning",
    'Dropout right before an output',
    """
Dropout on the model's output randomly zeroes predictions during training, which the loss
then punishes as errors. Dropout belongs before the last layer, not after it.

Bad:   [..., {op: Linear, out_features: 10}, {op: Dropout, p: 0.5}]
Good:  [..., {op: Dropout, p: 0.5}, {op: Linear, out_features: 10}]
""",
    'move the Dropout before the last weighted layer')

SINGLE_LOGIT_CROSS_ENTROPY = _declare(
    "L207", "single-logit-cross-entropy", "warning",
    'cross_entropy / nll on a single output unit: the loss is always 0',
    """
cross_entropy (and nll after LogSoftmax) normalise over the class axis, dim 1. With one
unit there, the softmax is always 1 and the loss always 0: nothing trains. A binary
classifier with one logit needs bce_with_logits; with cross_entropy it needs two logits.

Bad:   loss: cross_entropy      layers: [..., {op: Linear, out_features: 1}]
Good:  loss: bce_with_logits    layers: [..., {op: Linear, out_features: 1}]
Good:  loss: cross_entropy      layers: [..., {op: Linear, out_features: 2}]
""",
    'use bce_with_logits with one logit, or two outputs with cross_entropy')

SOFTMAX_SIZE_ONE = _declare(
    "L208", "softmax-size-one", "warning",
    'Softmax / LogSoftmax over an axis of size 1',
    """
A softmax normalises over its axis; over a single entry the result is always 1 (0 for
LogSoftmax), whatever the input: the layer before it gets no gradient. A one-unit binary
output wants Sigmoid (or raw logits with bce_with_logits).

Bad:   [..., {op: Linear, out_features: 1}, {op: Softmax, dim: 1}]
Good:  [..., {op: Linear, out_features: 1}, Sigmoid]
""",
    'use Sigmoid for one unit, or softmax over the axis that holds the classes')

SOFTMAX_AXIS = _declare(
    "L209", "softmax-axis", "warning",
    "a softmax over the batch axis, or not over the loss's class axis",
    """
A softmax normalises over one axis. Over an axis that holds the batch it mixes the samples:
every prediction depends on the rest of the batch, and evaluation with another batch size
gives other answers. At the output it must normalise the axis the loss reads the classes
on: dim 1 for cross_entropy / nll (and for `task: classification` / `segmentation`) in every
layout — [N, C], a segmentation map [N, C, H, W], per-step scores [N, C, T] — and the last
axis of ctc's (T, N, C). A softmax over any other axis normalises over pixels or time.

Bad:   {op: LogSoftmax, dim: 0}                     # on [N, 10]: across the batch
Bad:   {op: LogSoftmax, dim: -1}                    # on [N, 21, H, W] with loss: nll
Bad:   {op: LogSoftmax, dim: 1}                     # on (T, N, 29) with loss: ctc
Good:  {op: LogSoftmax, dim: 1}                     # [N, C, ...] with nll
Good:  {op: LogSoftmax, dim: 2}                     # (T, N, C) with ctc
""",
    "softmax over the class axis: dim 1 for cross_entropy / nll, the last axis for ctc")

CLASS_AXIS = _declare(
    "L210", "class-axis", "warning",
    'a classification loss on an output whose classes are not on dim 1',
    """
cross_entropy / nll read [N, C] or [N, C, d1, ...]: classes on dim 1. Two layouts put them
elsewhere and still run whenever the sizes fit. A Linear applied to a [N, C, H, W] feature
map mixes only the last axis (W), giving [N, C, H, classes]: the loss reads C as the classes
— pool (or flatten) the map first. Per-step scores from a Linear after an RNN, an embedding
or attention are [N, T, classes]: the loss reads T as the classes — permute to [N, C, T] for
one label per step (a 1-d conv head's [N, C, T] is already right), or read one step / the
final state for one label per sequence. A next-token model (`task: generation`) is trained
on its logits flattened to [N·T, vocab], as every language-model loop does: no finding.

Bad:   [..., {op: Conv2d, out_channels: 64, ...}, {op: Linear, out_features: 10}]
Good:  [..., {op: Conv2d, out_channels: 64, ...}, {op: AdaptiveAvgPool2d, output_size: 1},
        {op: flatten, start_dim: 1}, {op: Linear, out_features: 10}]
Bad:   [{op: LSTM, batch_first: true, ...}, {op: Linear, out_features: 9}]       # [N, T, 9]
Good:  [{op: LSTM, batch_first: true, ...}, {op: Linear, out_features: 9},
        {op: permute, dims: [0, 2, 1]}]                                          # [N, 9, T]
""",
    'put the classes on dim 1: pool and flatten a feature map before the classifier Linear; '
    'permute per-step scores [N, T, C] to [N, C, T]')


BIAS_BEFORE_NORM = _declare(
    "L301", "bias-before-norm", "warning",
    'a bias that the following normalisation cancels',
    """
BatchNorm and InstanceNorm subtract the per-channel mean, so a constant per-channel bias
added just before them has no effect: it is a wasted parameter (and wasted optimizer
state). The norm's own shift (beta) does that job.

Bad:   [{op: Conv2d, out_channels: 64, kernel_size: 3}, {op: BatchNorm2d}]
Good:  [{op: Conv2d, out_channels: 64, kernel_size: 3, bias: false}, {op: BatchNorm2d}]
""",
    'set bias: false on the conv / linear layer')

LINEAR_WITHOUT_ACTIVATION = _declare(
    "L302", "linear-without-activation", "warning",
    'two linear layers in a row with nothing nonlinear between them',
    """
A Linear (or 1×1 convolution) followed directly by another is still one linear map:
W2(W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2). The pair costs the parameters of two layers
and can express no more than one.

Bad:   [{op: Linear, out_features: 256}, {op: Linear, out_features: 10}]
Good:  [{op: Linear, out_features: 256}, ReLU, {op: Linear, out_features: 10}]
""",
    'add an activation between them, or merge them into one layer')

SATURATING_HIDDEN_ACTIVATION = _declare(
    "L303", "saturating-hidden-activation", "info",
    'sigmoid / tanh inside a deep feed-forward stack',
    """
Sigmoid and tanh saturate: their gradient vanishes for large inputs, and in a deep stack
the product of many small derivatives stalls training. ReLU-family activations (ReLU,
GELU, SiLU) train deep stacks far better. (Gates that multiply, and outputs, are fine.)

Bad:   [Linear, Sigmoid, Linear, Sigmoid, Linear, Sigmoid, Linear]
Good:  [Linear, GELU, Linear, GELU, Linear, GELU, Linear]
""",
    'use ReLU, GELU or SiLU in hidden layers')

DROPOUT_BEFORE_BATCHNORM = _declare(
    "L304", "dropout-before-batchnorm", "warning",
    'Dropout feeding BatchNorm',
    """
Dropout changes the variance of its output between training and evaluation; a BatchNorm
right after it learns running statistics under one variance and is used under the other
("variance shift", Li et al., 2019), which hurts accuracy at test time.

Bad:   [{op: Dropout, p: 0.5}, {op: BatchNorm1d}]
Good:  [{op: BatchNorm1d}, ReLU, {op: Dropout, p: 0.5}]
""",
    'put Dropout after the BatchNorm (and activation), or drop one of them')

RNN_DROPOUT_SINGLE_LAYER = _declare(
    "L305", "rnn-dropout-single-layer", "warning",
    'RNN dropout with a single layer does nothing',
    """
The `dropout` argument of RNN/LSTM/GRU is applied between stacked layers only. With
num_layers: 1 there is no such place, so it has no effect (torch warns about it).

Bad:   {op: LSTM, hidden_size: 128, dropout: 0.3}
Good:  {op: LSTM, hidden_size: 128, num_layers: 2, dropout: 0.3}
""",
    'use num_layers > 1, or put a Dropout layer after the RNN')

INPLACE_ON_SHARED_TENSOR = _declare(
    "L306", "inplace-on-shared-tensor", "error",
    'an in-place op overwrites a tensor another node still reads',
    """
`inplace: true` overwrites the op's input. When that input is also read by another branch
(a skip connection, a second head) or is a model input, that reader silently sees the
modified values — or autograd fails with "modified by an inplace operation".

Bad:   [{name: a, op: Conv2d, ...}, {op: ReLU, inplace: true}, {op: add, from: [a, 1]}]
Good:  [{name: a, op: Conv2d, ...}, {op: ReLU}, {op: add, from: [a, 1]}]
""",
    'set inplace: false on this op')

LOSSY_FLOOR = _declare(
    "L307", "lossy-floor", "warning",
    'a conv / pool window never reaches the last input rows or columns',
    """
The output size formula floors. When (size + 2·padding − dilation·(kernel − 1) − 1) is not
a multiple of the stride, the last few positions are never covered by any window; if they
are more than the padding, real input rows/columns are silently ignored. The finding names
the model input sizes that make every window of the stack fit (before this layer and after
it), and the layers of one stack that the same input size fixes are one finding, at the first.

Bad:   input 224, {op: Conv2d, kernel_size: 11, stride: 4}      # (224 − 11) % 4 = 1 → 1 column lost
Good:  input 227, {op: Conv2d, kernel_size: 11, stride: 4}
""",
    'change the input size, the padding or the stride so the windows fit')

BATCHNORM_SINGLE_VALUE = _declare(
    "L308", "batchnorm-single-value", "warning",
    'BatchNorm sees one value per channel',
    """
In training mode BatchNorm needs more than one value per channel to estimate a variance;
with batch 1 and 1×1 spatial size (or BatchNorm1d on a batch of 1) torch raises
"Expected more than 1 value per channel when training".

Bad:   inputs: {x: {shape: [1, 512]}}   layers: [{op: BatchNorm1d}]
Good:  train with batches > 1, or use LayerNorm / GroupNorm
""",
    'use a batch size above 1, or LayerNorm/GroupNorm')

RNN_LAYOUT_MISMATCH = _declare(
    "L309", "rnn-layout-mismatch", "warning",
    "the input's dim names contradict batch_first",
    """
RNN, LSTM, GRU, MultiheadAttention and the Transformer layers read (T, N, F) unless
batch_first is true. An input declared as [N, T, F] with batch_first false is read as a
sequence of length N — it runs, and learns nonsense.

Bad:   inputs: {x: {shape: [N, T, 32]}}   layers: [{op: LSTM, hidden_size: 64}]
Good:  inputs: {x: {shape: [N, T, 32]}}   layers: [{op: LSTM, hidden_size: 64, batch_first: true}]
""",
    'set batch_first to match the input layout')

UNUSED_NODE = _declare(
    "L310", "unused-node", "warning",
    'a node whose output reaches no model output',
    """
A node that no output depends on still costs parameters, memory and time (and its
parameters get no gradient, which breaks DDP). Usually a `from` points at the wrong node.

Bad:   [{name: a, op: Linear, out_features: 8}, {name: b, op: Linear, from: x, out_features: 8}]
Good:  remove `a`, or wire it in
""",
    'remove the node, or use its output')

ZERO_INIT = _declare(
    "L311", "zero-init", "warning",
    'all-zero weights before an activation',
    """
If every weight of a layer starts at zero, every unit computes the same value and gets the
same gradient, so the units never become different (the symmetry is never broken). Zero
init is only safe for a last layer or a residual branch's final scale.

Bad:   [{op: Linear, out_features: 64, init: zeros}, Tanh]
Good:  [{op: Linear, out_features: 64, init: xavier_uniform}, Tanh]
""",
    'use a random init (kaiming / xavier) for this layer')

HUGE_DENSE_LAYER = _declare(
    "L312", "huge-dense-layer", "info",
    "one Linear layer holds most of the model's parameters",
    """
A Linear layer applied to a large flattened feature map (VGG's first classifier layer has
102M of its 138M parameters) dominates memory and overfits easily. Global average pooling
before the classifier usually does as well with a fraction of the parameters.

Bad:   [{op: flatten, start_dim: 1}, {op: Linear, out_features: 4096}]   # on 512×7×7
Good:  [{op: AdaptiveAvgPool2d, output_size: 1}, {op: flatten, start_dim: 1}, {op: Linear, out_features: 4096}]
""",
    'pool the feature map before the classifier')

RNN_READOUT = _declare(
    "L313", "rnn-readout", "warning",
    'the summary of an RNN is read from a step or layer that has not seen the sequence',
    """
Three ways to read an RNN's summary that run but learn from the wrong thing:
- `output[:, -1]` of a bidirectional RNN: the backward direction has seen one step there.
- `output[:, -1]` with `lengths` (packed): for every shorter sequence that position is padding.
- `h_n[0]` of a multi-layer RNN: h_n is (num_layers · directions, N, H), index 0 is the FIRST
  layer; the top layer is h_n[-1] (h_n[-2] and h_n[-1] when bidirectional — both are needed).

Bad:   {op: select, from: lstm.output, dim: 1, index: -1}      # bidirectional, or packed
Bad:   {op: select, from: lstm.h_n, dim: 0, index: 0}          # num_layers: 3
Good:  {op: select, from: lstm.h_n, dim: 0, index: -1}
""",
    "read the top layer's final state from h_n: h_n[-1], or cat(h_n[-2], h_n[-1]) when bidirectional")

CHANNELS_LAYOUT = _declare(
    "L314", "channels-layout", "warning",
    '(N, T, C) fed to a layer expecting (N, C, T), or the other way round',
    """
Conv1d, BatchNorm1d and the 1-d pools read channels on dim 1: (N, C, T). Linear, Embedding,
LayerNorm, RNNs and attention produce (and RNNs read) features on the LAST axis: (N, T, C).
Feeding one layout to the other runs whenever the sizes happen to fit — and normalises or
convolves over time instead of features. Images from PIL / numpy are (N, H, W, C); Conv2d
reads (N, C, H, W).

Bad:   [{op: Embedding, ...}, {op: BatchNorm1d}]            # normalises per time step
Good:  [{op: Embedding, ...}, {op: permute, dims: [0, 2, 1]}, {op: BatchNorm1d}]
Bad:   [{op: Conv1d, ...}, {op: LSTM, batch_first: true}]    # the LSTM reads C as time
Good:  [{op: Conv1d, ...}, {op: permute, dims: [0, 2, 1]}, {op: LSTM, batch_first: true}]
""",
    'permute the tensor between the two layouts ({op: permute, dims: [0, 2, 1]})')

FLATTEN_BATCH = _declare(
    "L315", "flatten-batch", "warning",
    'flatten from dim 0 swallows the batch',
    """
torch.flatten starts at dim 0 by default (nn.Flatten starts at 1). On a batch the result is
one long vector: the next Linear mixes samples, and needs in_features = batch × features,
which breaks (or silently learns nonsense) at any other batch size.

Bad:   [{op: AdaptiveAvgPool2d, output_size: 1}, {op: flatten}, {op: Linear, out_features: 10}]
Good:  [{op: AdaptiveAvgPool2d, output_size: 1}, {op: flatten, start_dim: 1}, {op: Linear, out_features: 10}]
""",
    'flatten with start_dim: 1 (or use Flatten, which starts at 1)')

RECEPTIVE_FIELD = _declare(
    "L316", "receptive-field", "warning",
    'a time step read from a conv stack whose receptive field is shorter than the sequence',
    """
One output step of a stack of 1-d convolutions sees only its receptive field: for L layers of
kernel k it is L·(k−1)+1 input steps; with dilations d_i and strides s_i it is
1 + Σ d_i·(k_i−1)·Π_{j<i} s_j. A TCN that predicts from its last step, declared for sequences
longer than that, never sees the beginning of them. (Pooling over the whole sequence, an RNN
or attention afterwards, see all of it — no finding then.)

Bad:   x: [N, 8, 1000], 3 × {Conv1d, kernel_size: 3, dilation: 2**i}, then select index -1   # 15 steps
Good:  x: [N, 8, 1000], 9 × {Conv1d, kernel_size: 3, dilation: 2**i}, then select index -1   # 1023 steps
""",
    'add dilated layers (dilation doubling per layer) or a larger kernel until the receptive field covers the sequence, or pool over time')

NO_POSITIONAL_ENCODING = _declare(
    "L317", "no-positional-encoding", "warning",
    'self-attention with no positional information before it',
    """
Self-attention is permutation-equivariant: without a position signal added to its input
it sees a bag of tokens ("dog bites man" = "man bites dog"). A learned position table
(a `parameter` of shape [1, T, d] added to the embeddings), a position Embedding, or a
recurrent / convolutional layer before the attention gives it the order.

Bad:   [{op: Embedding, ...}, {op: TransformerEncoderLayer, nhead: 8, batch_first: true}]
Good:  [{name: tok, op: Embedding, ...}, {name: pos, op: parameter, shape: [1, 128, 256]},
        {op: add, from: [tok, pos]}, {op: TransformerEncoderLayer, nhead: 8, batch_first: true}]
""",
    'add a position embedding to the token embeddings before the first attention layer')

CHECKERBOARD = _declare(
    "L318", "checkerboard", "warning",
    'ConvTranspose kernel not divisible by its stride (checkerboard artifacts)',
    """
A strided transposed convolution paints each input onto a kernel-sized patch of the output,
`stride` apart. When the kernel is not a multiple of the stride the patches overlap unevenly:
some output positions get more contributions than their neighbours, a checkerboard pattern
that training has to fight (Odena et al., "Deconvolution and Checkerboard Artifacts", 2016).

Bad:   {op: ConvTranspose2d, out_channels: 64, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}
Good:  {op: ConvTranspose2d, out_channels: 64, kernel_size: 4, stride: 2, padding: 1}
Good:  [{op: Upsample, scale_factor: 2}, {op: Conv2d, out_channels: 64, kernel_size: 3, padding: 1}]
""",
    'use a kernel divisible by the stride (4 with stride 2), or Upsample + Conv')

CAUSAL_LM_WITHOUT_MASK = _declare(
    "L319", "causal-lm-without-mask", "warning",
    'a causal language model whose self-attention has no attention mask',
    """
A model trained to predict the next token must not see it: without a causal mask every
position of a Transformer layer attends to the whole sequence, including the tokens it is
asked to predict. Training loss drops to almost nothing and generation fails. `task:
generation` says the model generates token by token: then every self-attention of a
decoder-only model (or, in an encoder-decoder, the self-attention on the decoder side: the
encoder, read only as the cross-attention memory, may look both ways) needs its mask —
`src_mask: true` with the mask as an input and `is_causal: true` (TransformerEncoderLayer),
`tgt_mask` / `tgt_is_causal` (TransformerDecoderLayer), `attn_mask` / `is_causal`
(MultiheadAttention), `causal: true` (Attention; its `mask` is a padding mask), `is_causal`
or an attn_mask input (scaled_dot_product_attention).

Bad:   task: generation   layers: [..., {op: TransformerEncoderLayer, nhead: 8, batch_first: true}]
Good:  task: generation   layers: [..., {op: TransformerEncoderLayer, nhead: 8, batch_first: true,
                                         from: [h, causal_mask], src_mask: true, is_causal: true}]
""",
    'give each self-attention layer the causal mask (src_mask / attn_mask) and is_causal: true')
