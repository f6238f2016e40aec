"""Started by tests/test_distributed.py under torchrun: trains a recipe with overrides and saves this
rank's final G, D and EMA weights (buffers included) to OUT/rank<N>.safetensors."""

import sys

from safetensors.torch import save_file

from steadygan.config import load_config
from steadygan.storage.checkpoint import flatten_module
from steadygan.train import Trainer
from steadygan.train.distributed import end_process_group

if __name__ == "__main__":
    recipe, out, *overrides = sys.argv[1:]
    trainer = Trainer(load_config(recipe, overrides), progress=False, tensorboard=False)
    trainer.fit()
    state = {**flatten_module("G", trainer.G), **flatten_module("D", trainer.D),
             **flatten_module("G_ema", trainer.ema.model)}
    save_file({k: v.contiguous() for k, v in state.items()}, f"{out}/rank{trainer.ranks.rank}.safetensors")
    end_process_group()
