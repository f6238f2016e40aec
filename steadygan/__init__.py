"""steadygan: train GANs that do not fall apart.

```python
import steadygan
result = steadygan.train("sngan", ["data.source=photos/", "data.resolution=32"])
steadygan.sample(result.out_dir, 64, out="grid.png")
print(steadygan.evaluate(result.out_dir, "fid,kid", n=10_000).scores)
```
"""

from importlib import metadata as _metadata

from .config import Config, load_config
from .data_report import inspect_data
from .errors import CheckpointError, ConfigError, DataError, SteadyganError
from .export import export_generator
from .generate import info, interpolate, load_generator, sample, style_mix
from .metrics import evaluate_checkpoint as evaluate
from .metrics import evaluate_folders
from .run_list import list_runs
from .train import Trainer, TrainResult, train

try:  # one source of truth, pyproject.toml's version, as installed; the same as `steadygan --version`
    __version__ = _metadata.version("steadygan")
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["CheckpointError", "Config", "ConfigError", "DataError", "SteadyganError", "TrainResult", "Trainer",
           "evaluate", "evaluate_folders", "export_generator", "info", "inspect_data", "interpolate", "list_runs",
           "load_config", "load_generator", "sample", "style_mix", "train"]
