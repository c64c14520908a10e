"""What a user does today to see ResNet-50's shapes and parameter counts: import torch,
construct the model by hand, summarise it with torchinfo (one forward pass)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torchinfo  # noqa: E402

from handwritten import resnet50  # noqa: E402

torchinfo.summary(resnet50(), input_size=(1, 3, 224, 224), verbose=0)
