"""A training run's checkpoint: ``last.keras`` and ``state.json`` in one folder.

The state holds the epochs done, the history so far and a fingerprint of what shaped the run
(recipe and training data), so a cut-off run resumes only into the same run. A state file that
cannot be used (not JSON, cut short, or without ``epochs_done`` and ``history``) raises
``CheckpointError`` naming the file and the way out, rather than being skipped: a run asked to
resume should not silently start afresh, and starting afresh overwrites the checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def random_states(model: Any) -> list[Any]:
    """The model's random-number states (its dropout layers' seed generators), in layer order.
    ``model.save`` does not keep how far they have drawn, so the checkpoint state keeps them:
    a resumed run then drops the units an uninterrupted one would."""
    return [v for v in model.non_trainable_variables if v.path.endswith("seed_generator_state")]


class CheckpointError(ValueError):
    """A checkpoint's ``state.json`` cannot be used; the message names it and how to recover."""


class CheckpointStore:
    """The checkpoint folder of one training run. Writes are atomic (temp file + rename), so
    a run killed mid-save leaves the previous epoch's checkpoint readable."""

    MODEL_FILE = "last.keras"
    STATE_FILE = "state.json"

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        # The best epoch whose weights this run wrote or resumed from: a file of that name
        # left by another run is never taken for this run's.
        self._best_epoch_kept: int | None = None

    def __repr__(self) -> str:
        return f"CheckpointStore({str(self.directory)!r})"

    @property
    def model_path(self) -> Path:
        return self.directory / self.MODEL_FILE

    def state(self) -> dict[str, Any] | None:
        """The saved state when both it and the model exist, else ``None``.

        Raises ``CheckpointError`` (naming the file, the reason and how to start afresh) when
        the state file is unreadable, not JSON, or lacks ``epochs_done`` or ``history``.
        """
        state_file = self.directory / self.STATE_FILE
        if not (state_file.is_file() and self.model_path.is_file()):
            return None
        try:
            state = json.loads(state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:  # JSONDecodeError, UnicodeDecodeError
            raise self._unusable(state_file, f"{type(error).__name__}: {error}") from error
        if not isinstance(state, dict):
            raise self._unusable(state_file, f"holds a {type(state).__name__}, not an object")
        epochs = state.get("epochs_done")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise self._unusable(state_file, f"'epochs_done' is {epochs!r}, not a count")
        if not isinstance(state.get("history"), dict):
            raise self._unusable(state_file, "'history' is missing or not an object")
        return state

    def _unusable(self, state_file: Path, reason: str) -> CheckpointError:
        return CheckpointError(
            f"{state_file}: the training checkpoint's state cannot be read ({reason}), so the "
            f"run cannot resume from it. Delete the checkpoint folder {self.directory} or set "
            "train.resume=false to start afresh (this overwrites the checkpoint)."
        )

    def load_model(self) -> Any:
        import keras

        import plate_ocr_pipeline.training.losses  # noqa: F401  (registers losses, schedules)
        import plate_ocr_pipeline.training.models  # noqa: F401  (registers custom layers)

        return keras.saving.load_model(self.model_path)

    def save(
        self,
        model: Any,
        state: dict[str, Any],
        best_weights: tuple[int, list[np.ndarray]] | None = None,
    ) -> None:
        """Save the model and state; ``best_weights`` (epoch, weights) are early stopping's,
        written once per best epoch (``best-<epoch>.npz``, named in the state as
        ``best_weights_epoch``) and the older ones removed after the state names the new."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # Every file is written in full before the first rename, so a run killed mid-save
        # leaves the model and state of one epoch (the renames are microseconds apart).
        model_tmp = self.directory / "last.tmp.keras"
        model.save(model_tmp)
        keep = None
        if best_weights is not None:
            epoch, weights = best_weights
            keep = self._best_path(epoch)
            if epoch != self._best_epoch_kept:
                weights_tmp = self.directory / "best.tmp.npz"
                with open(weights_tmp, "wb") as file:
                    np.savez(file, *weights)
                os.replace(weights_tmp, keep)
                self._best_epoch_kept = int(epoch)
            state = {**state, "best_weights_epoch": int(epoch)}
        state_tmp = self._state_tmp(state)
        os.replace(model_tmp, self.model_path)
        os.replace(state_tmp, self.directory / self.STATE_FILE)
        for old in self.directory.glob("best-*.npz"):
            if old != keep:
                old.unlink()

    def _best_path(self, epoch: int) -> Path:
        return self.directory / f"best-{int(epoch)}.npz"

    def best_weights(self, state: dict[str, Any]) -> list[np.ndarray] | None:
        """Early stopping's best weights that ``state`` names, or ``None``."""
        epoch = state.get("best_weights_epoch")
        if epoch is None:
            return None
        path = self._best_path(epoch)
        if not path.is_file():
            raise self._unusable(self.directory / self.STATE_FILE, f"{path.name} is missing")
        with np.load(path) as saved:
            weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        self._best_epoch_kept = int(epoch)
        return weights

    def mark_finished(self) -> None:
        state = self.state()
        if state is not None:
            self._write_state({**state, "finished": True})

    def _state_tmp(self, state: dict[str, Any]) -> Path:
        state_tmp = self.directory / "state.tmp.json"
        state_tmp.write_text(json.dumps(state))
        return state_tmp

    def _write_state(self, state: dict[str, Any]) -> None:
        os.replace(self._state_tmp(state), self.directory / self.STATE_FILE)


def run_fingerprint(recipe: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """What a resumed run must share with the run that wrote the checkpoint: the recipe
    (JSON-normalised) and a SHA-256 of each training array (pixels and labels)."""
    digests = {}
    for name, array in sorted(arrays.items()):
        digest = hashlib.sha256(str((array.dtype, array.shape)).encode())
        if array.dtype == object:
            digest.update("\x00".join(map(str, array.ravel())).encode())
        else:
            digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))
        digests[name] = digest.hexdigest()
    return json.loads(json.dumps({**recipe, "data": digests}, sort_keys=True))


def fingerprint_mismatch(
    saved: dict[str, Any], current: dict[str, Any], prefix: str = ""
) -> list[str]:
    """Dotted keys whose values differ between two fingerprints (``data.images``,
    ``model.row_context``)."""
    differing = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            differing += fingerprint_mismatch(a, b, f"{prefix}{key}.")
        elif a != b:
            differing.append(prefix + key)
    return differing
