"""Evaluation during training: the EMA generator scored every `train.eval_every` steps with the
`train.eval_*` protocol (against the training data, or the `train.eval_real` images), the protocol of
the latest scores in evaluation.json, and the best score so far (lowest FID, else KID) tracked, so that
the trainer keeps that checkpoint as best.safetensors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..config import TrainConfig
from ..metrics.evaluate import Evaluator, best_score_key, image_data, is_better
from ..models import Generator
from ..storage.atomic import write_atomic


@dataclass
class Scores:
    values: dict[str, float]
    best: bool  # the best by the tracked score so far


class PeriodicEvaluation:
    def __init__(self, cfg: TrainConfig, dataset: Any, source: str, device: torch.device, out_dir: Path):
        # Built before the first step, so that a missing extractor or reference fails before any training time.
        if cfg.eval_real:
            source = cfg.eval_real
            dataset = image_data(source, dataset.shape()[-1], dataset.shape()[0], progress=False)
        self.evaluator = Evaluator(cfg.eval_metrics, dataset, source, extractor=cfg.eval_extractor, n=cfg.eval_n,
                                   device=device, progress=False)
        self.seed, self.out_dir = cfg.seed, out_dir
        self.key = best_score_key(self.evaluator.metrics)
        self.best: float | None = None
        self.last_step = -1

    def __call__(self, generator: Generator, num_classes: int, step: int) -> Scores:
        # The same latents every time, so that the scores of one run differ by the weights alone.
        result = self.evaluator.score_generator(generator, num_classes, seed=self.seed)
        self.last_step = step
        latest = {"step": step, "scores": result.scores, "protocol": result.protocol}
        write_atomic(self.out_dir / "evaluation.json", json.dumps(latest, indent=2).encode())
        improved = self.key is not None and is_better(result.scores[self.key], self.best)
        if self.key is not None and improved:
            self.best = result.scores[self.key]
        return Scores(result.scores, improved)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "key": self.key}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("key") == self.key:
            self.best = state.get("best")
