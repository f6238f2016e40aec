"""steadygan: train GANs that do not fall apart.

```python
import steadygan
result = steadygan.train("sngan", ["data.source=photos/", "data.resolution=32"])
steadygan.sample(result.out_dir, 64, out="grid.png")
print(steadygan.evaluate(result.out_dir, "fid,kid", n=10_000).scores)
```
"""

from .config import Config, load_config
from .data_report import inspect_data
from .errors import CheckpointError, ConfigError, DataError, SteadyganError
from .export import export_generator
from .generate import info, interpolate, load_generator, sample, style_mix
from .metrics import evaluate_checkpoint as evaluate
from .metrics import evaluate_folders
from .run_list import list_runs
from .train import Trainer, TrainResult, train

__version__ = "0.1.0"

__all__ = ["CheckpointError", "Config", "ConfigError", "DataError", "SteadyganError", "TrainResult", "Trainer",
           "evaluate", "evaluate_folders", "export_generator", "info", "inspect_data", "interpolate", "list_runs",
           "load_config", "load_generator", "sample", "style_mix", "train"]
