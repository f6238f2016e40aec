"""Evaluation during training: the EMA generator scored every `train.eval_every` steps, the scores
logged beside the losses, the protocol of the latest scores in evaluation.json, and the best checkpoint
(lowest FID, else KID) kept as best.safetensors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from ..atomic import write_atomic
from ..metrics.evaluate import Evaluator, best_score_key, is_better
from .checkpoint import BEST

if TYPE_CHECKING:
    from .trainer import Trainer


class PeriodicEvaluation:
    def __init__(self, trainer: Trainer):
        cfg = trainer.config.train
        # Built before the first step, so that a missing extractor fails before any training time is spent.
        self.evaluator = Evaluator(cfg.eval_metrics, trainer.dataset, trainer.config.data.source,
                                   extractor=cfg.eval_extractor, n=cfg.eval_n, device=trainer.device,
                                   progress=False)
        self.key = best_score_key(self.evaluator.metrics)
        self.best: float | None = None
        self.last_step = -1

    def __call__(self, trainer: Trainer) -> dict[str, float]:
        # The same latents every time, so that the scores of one run differ by the weights alone.
        result = self.evaluator.score_generator(trainer.ema.model, trainer.num_classes, seed=trainer.config.train.seed)
        self.last_step = trainer.step
        trainer.metrics.write(trainer.step, result.scores)
        latest = {"step": trainer.step, "scores": result.scores, "protocol": result.protocol}
        write_atomic(trainer.out_dir / "evaluation.json", json.dumps(latest, indent=2).encode())
        shown = " ".join(f"{k}={v:.4g}" for k, v in result.scores.items())
        if self.key and is_better(result.scores[self.key], self.best):
            self.best = result.scores[self.key]
            trainer.save_checkpoint(BEST)
            shown += f" (best so far: {trainer.out_dir / 'checkpoints' / BEST})"
        if trainer.progress:
            tqdm.write(f"step {trainer.step}: {shown}")
        return result.scores

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "key": self.key}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("key") == self.key:
            self.best = state.get("best")
