"""The epoch loop every learner shares: seeding, checkpoints (resume), JSON + TensorBoard logs, early stopping."""

from __future__ import annotations

import copy
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import BadInput

CKPT = "ckpt.pt"
LOG = "log.jsonl"


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch; returns the numpy generator the learners draw from."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


#: settings a resumed run may change: train longer, wait longer, load with more workers
RESUMABLE = ("epochs", "patience", "workers")


def _comparable(config: dict) -> str:
    return json.dumps({k: v for k, v in config.items() if k not in RESUMABLE}, sort_keys=True, default=str)


class Trainer:
    """Runs epochs of one learner, checkpointing after each so a killed run resumes where it stopped."""

    def __init__(self, run_dir: Path, modules: dict, optimizer, config: dict, seed: int = 0,
                 monitor: str = "val_recall@1", patience: int = 5, fresh: bool = False,
                 on_epoch: Callable[[dict], None] | None = None):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.modules, self.optimizer, self.config = modules, optimizer, config
        self.monitor, self.patience, self.on_epoch = monitor, patience, on_epoch
        self.rng = seed_everything(seed)
        self.epoch, self.best, self.best_epoch, self.best_state = 0, -np.inf, 0, None
        self.history: list[dict] = []
        self.seconds = 0.0
        self.resumed_from = 0
        self._writer = None
        if fresh:
            for name in (CKPT, LOG):
                (self.run_dir / name).unlink(missing_ok=True)
        elif (self.run_dir / CKPT).exists():
            self._load()

    # -- checkpoints -------------------------------------------------------
    def _state(self) -> dict:
        import torch

        return {
            "epoch": self.epoch, "config": self.config, "best": self.best, "best_epoch": self.best_epoch,
            "best_state": self.best_state, "history": self.history, "seconds": self.seconds,
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "rng": {"numpy": self.rng.bit_generator.state, "torch": torch.get_rng_state(),
                    "python": random.getstate(), "numpy_global": np.random.get_state()},
        }

    def _save(self) -> None:
        import torch

        tmp = self.run_dir / (CKPT + ".tmp")
        torch.save(self._state(), tmp)
        os.replace(tmp, self.run_dir / CKPT)

    def _load(self) -> None:
        import torch

        state = torch.load(self.run_dir / CKPT, map_location="cpu", weights_only=False)
        if _comparable(state["config"]) != _comparable(self.config):
            raise BadInput(
                f"{self.run_dir / CKPT} was written by a run with other settings. Resume it with the same "
                "command, start over with --fresh, or pick another --name"
            )
        for k, m in self.modules.items():
            m.load_state_dict(state["modules"][k])
        if self.optimizer is not None and state["optimizer"] is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.best, self.best_epoch = state["epoch"], state["best"], state["best_epoch"]
        self.best_state, self.history, self.seconds = state["best_state"], state["history"], state["seconds"]
        self.rng.bit_generator.state = state["rng"]["numpy"]
        torch.set_rng_state(state["rng"]["torch"])
        random.setstate(state["rng"]["python"])
        np.random.set_state(state["rng"]["numpy_global"])  # pytorch-metric-learning samplers draw from it
        self.resumed_from = self.epoch
        self._write_log()  # a run killed between log and checkpoint may have logged an extra epoch

    # -- logs --------------------------------------------------------------
    def _write_log(self) -> None:
        with open(self.run_dir / LOG, "w") as f:
            for rec in self.history:
                f.write(json.dumps(rec) + "\n")

    def _tensorboard(self, rec: dict) -> None:
        if self._writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional; the JSON log is always written
                self._writer = False
                return
            self._writer = SummaryWriter(str(self.run_dir / "tb"))
        if self._writer:
            for k, v in rec.items():
                if k != "epoch" and isinstance(v, (int, float)):
                    self._writer.add_scalar(k, v, rec["epoch"])
            self._writer.flush()

    # -- the loop ----------------------------------------------------------
    def fit(self, epochs: int, train_epoch: Callable[[int], float], validate: Callable[[], dict]) -> dict:
        """Train until `epochs` or until the monitored metric stops improving; loads the best state at the end."""
        while self.epoch < epochs and self.epoch - self.best_epoch < self.patience:
            t0 = time.perf_counter()
            for m in self.modules.values():
                m.train()
            loss = float(train_epoch(self.epoch))
            for m in self.modules.values():
                m.eval()
            rec = {"epoch": self.epoch + 1, "loss": round(loss, 6), **validate()}
            self.seconds += time.perf_counter() - t0
            rec["seconds"] = round(self.seconds, 2)
            score = rec.get(self.monitor, -loss)
            self.epoch += 1
            if score > self.best:
                self.best, self.best_epoch = score, self.epoch
                self.best_state = {k: copy.deepcopy(m.state_dict()) for k, m in self.modules.items()}
            self.history.append(rec)
            with open(self.run_dir / LOG, "a") as f:
                f.write(json.dumps(rec) + "\n")
            self._tensorboard(rec)
            self._save()
            if self.on_epoch:
                self.on_epoch(rec)
        if self._writer:
            self._writer.close()
        if self.best_state is not None:
            for k, m in self.modules.items():
                m.load_state_dict(self.best_state[k])
        return {"best_epoch": self.best_epoch, "best": float(self.best), "epochs": self.epoch,
                "seconds": round(self.seconds, 2), "resumed_from": self.resumed_from}
