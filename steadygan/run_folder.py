"""Run folders: where a training run writes, claimed by one process at a time.

A new run gets a folder of its own (`runs/00000-dcgan`, `runs/00001-sngan`, ... as stylegan2-ada numbers
them), an explicit folder that already holds a run is refused, and a lock held for the life of the
training process keeps a second process out (the operating system releases it when the process dies,
kill -9 included). Temporary files that an interrupted atomic write left behind are removed when the
folder is claimed again.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
from pathlib import Path
from typing import IO

from .errors import RunFolderError
from .storage.atomic import writable_folder

DEFAULT_ROOT = Path("runs")
LOCK_NAME = ".steadygan.lock"
# What a training run (and `animate` beside it) writes; a folder holding any marker holds a run.
RUN_MARKERS = ("config.yaml", "metrics.jsonl", "checkpoints")
RUN_OUTPUTS = (*RUN_MARKERS, "samples", "tensorboard", "loss.png", "evaluation.json", "training.gif")
MODEL_CARD = "README.md"  # written at the end of every training session (steadygan.train.model_card)
MODEL_CARD_MARK = "<!-- model card written by steadygan train; replaced at the end of every training session -->"
TEMPORARY = re.compile(r"^\..+\.\d+\.tmp$")  # steadygan.storage.atomic's temporary names: .NAME.PID.tmp
NUMBERED = re.compile(r"^(\d{5,})-")


def holds_run(folder: Path) -> bool:
    return any((folder / name).exists() for name in RUN_MARKERS)


def is_model_card(path: Path) -> bool:
    """Whether a file is a model card a training run wrote (a README.md of the user's never is)."""
    try:
        with open(path, "rb") as handle:
            return handle.readline(len(MODEL_CARD_MARK) + 2).decode("utf-8", "replace").rstrip() == MODEL_CARD_MARK
    except OSError:
        return False


def is_locked(folder: Path) -> bool:
    """Whether a training process holds the folder's lock now. Probed with a shared lock that is released
    at once; a process claiming the folder in that instant is refused, as if the folder were busy."""
    try:
        handle = open(folder / LOCK_NAME)  # noqa: SIM115  (closed below; closing releases the probe)
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EAGAIN, errno.EACCES)
    finally:
        handle.close()
    return False


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+=-]+", "_", name).strip("_.") or "run"


def next_run_folder(root: Path, name: str) -> Path:
    """A new folder `root/NNNNN-name`, numbered one past the highest number under `root`. It is created
    here, with a plain mkdir that fails if the folder exists, so two processes never get the same one."""
    writable_folder(root)
    while True:
        numbers = [int(match[1]) for entry in root.iterdir() if (match := NUMBERED.match(entry.name))]
        folder = root / f"{max(numbers, default=-1) + 1:05d}-{_slug(name)}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue  # another process took this number first
        except OSError as exc:
            message = f"cannot create run folder '{folder}' ({exc.strerror}); give a writable --out"
            raise RunFolderError(message) from None


class RunFolder:
    """A run folder this process has claimed: locked until `release()` (or the end of the process)."""

    def __init__(self, path: Path, handle: IO[str] | None = None, created: bool = False):
        self.path = path
        self._handle = handle  # the open lock file; None on training processes that do not write
        self.created = created  # made for this run, so removed again if the run never starts

    @classmethod
    def new(cls, root: Path, name: str) -> RunFolder:
        """A new numbered folder under `root`, claimed."""
        folder = cls.claim(next_run_folder(root, name), fresh=True)
        folder.created = True
        return folder

    @classmethod
    def claim(cls, path: str | os.PathLike, *, fresh: bool, overwrite: bool = False) -> RunFolder:
        """Lock `path` for this process. With `fresh`, a folder that already holds a run is refused, or with
        `overwrite` emptied of that run's outputs first (files the run did not write stay)."""
        try:
            path = Path(path).expanduser()
        except RuntimeError:  # ~user of no such user
            raise RunFolderError(f"cannot find the home folder in '{path}'; give a full path as --out") from None
        created = not path.exists()
        writable_folder(path)
        try:
            handle = open(path / LOCK_NAME, "a+")  # noqa: SIM115  (held open: the lock lasts as long as it)
        except OSError as exc:
            message = f"cannot write in run folder '{path}' ({exc.strerror}); give a writable --out"
            raise RunFolderError(message) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise RunFolderError(f"cannot lock run folder '{path}' ({exc.strerror})") from None
            raise RunFolderError(f"'{path}' is being trained by another process{f' (pid {holder})' if holder else ''}; "
                                 "wait for it to finish, or train into another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        folder = cls(path, handle, created)
        try:
            if fresh and holds_run(path):
                if not overwrite:
                    raise RunFolderError(f"'{path}' already holds a run; continue it with `steadygan train --resume "
                                         f"{path}`, start over in it with --overwrite, or give another --out")
                folder.remove_outputs()
            folder.remove_temporary_files()
        except BaseException:
            folder.release()
            raise
        return folder

    def remove_outputs(self) -> None:
        """Delete what an earlier run wrote here (its checkpoints, logs, grids, its model card), nothing else:
        a README.md of the user's stays."""
        for name in RUN_OUTPUTS:
            target = self.path / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
        if is_model_card(self.path / MODEL_CARD) and not (self.path / MODEL_CARD).is_symlink():
            (self.path / MODEL_CARD).unlink()

    def remove_temporary_files(self) -> None:
        """Half-written files of a process that died inside an atomic write (kill -9, power loss)."""
        for folder in (self.path, self.path / "checkpoints", self.path / "samples"):
            if folder.is_dir():
                for entry in folder.iterdir():
                    if TEMPORARY.match(entry.name) and entry.is_file():
                        entry.unlink(missing_ok=True)

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file releases the lock
            self._handle = None

    def abandon(self) -> None:
        """Release a folder whose run never started; remove it when this run made it and left nothing in it."""
        self.release()
        if self.created and {entry.name for entry in self.path.iterdir()} <= {LOCK_NAME}:
            (self.path / LOCK_NAME).unlink(missing_ok=True)
            self.path.rmdir()
