"""`specc new`: a small, commented starter spec."""
from __future__ import annotations

import os
import shlex

STARTER = """\
# yaml-language-server: $schema=https://raw.githubusercontent.com/specc-dev/specc/main/schemas/specc.schema.json
#
# A starter spec: a small CNN classifier for 32×32 RGB images.
# Check it:   specc check {name}
# Draw it:    specc render {name} -o {stem}.svg
# Build it:   specc build {name}            (needs torch)
specc: 1
name: {stem}

inputs:
  x: {{shape: [N, 3, 32, 32]}}        # N stays symbolic: any batch size

vars: {{num_classes: 10}}              # use them as $num_classes or ${{num_classes * 2}}
loss: cross_entropy                  # enables the loss lints (no softmax at the end!)

blocks:
  ConvBlock:                         # a reusable block with parameters
    params: {{channels: null}}         # null = required
    layers:                          # each layer reads the previous one
      - {{name: conv, op: Conv2d, out_channels: $channels, kernel_size: 3, padding: 1, bias: false}}
      - {{name: bn, op: BatchNorm2d}}  # num_features is inferred
      - {{name: act, op: ReLU, inplace: true}}

layers:
  - {{name: stage1, block: ConvBlock, channels: 32}}
  - {{op: MaxPool2d, kernel_size: 2}}
  - {{name: stage2, block: ConvBlock, channels: 64}}
  - {{op: AdaptiveAvgPool2d, output_size: 1}}
  - {{op: flatten, start_dim: 1}}
  - {{name: fc, op: Linear, out_features: $num_classes}}   # in_features is inferred
"""


def starter_text(path: str) -> str:
    """The starter spec for a file at `path` (its name becomes the model's name)."""
    stem = os.path.splitext(os.path.basename(path))[0] or "model"
    # the comments' commands: quoted as a shell needs ('my model.yaml'); a name with a
    # newline escaped, which would otherwise end the comment and break the YAML
    shown = shlex.quote(path) if path.isprintable() else ascii(path)
    return STARTER.format(name=shown, stem=stem if stem.isidentifier() else "model")
