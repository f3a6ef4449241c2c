"""``MlflowPlateReaderDataset``: saving an ONNX plate model logs the whole reader to MLflow.

kedro-mlflow's ``MlflowModelTrackingDataset`` logs the object a node returns with the flavour's
``log_model`` and the catalog's ``save_args``. The reader needs more than static arguments: the
ONNX file as an artifact, the library code it imports, a signature and an input example made
from the model's own answer. :func:`plate_ocr_pipeline.inference.mlflow_model.log_plate_reader`
builds those, so this subclass keeps kedro-mlflow's behaviour (nothing is logged where
kedro-mlflow's hook turned tracking off for the pipeline; ``load`` gives back the last logged
model as a pyfunc) and replaces only what is logged. Unlike its parent it also logs nothing
when no MLflow run is active, where MLflow 3 would log and register a model outside any run.

Not exported from ``plate_ocr_pipeline.datasets``: it imports MLflow, which the plain install
does not have. The catalog names its module.
"""

from __future__ import annotations

import logging
from typing import Any

from kedro.io.core import DatasetError
from kedro_mlflow.io.models import MlflowModelTrackingDataset

logger = logging.getLogger(__name__)

_SAVE_ARGS = {"name", "registered_model_name", "await_registration_for"}


# The name starts with "Mlflow" because kedro-mlflow's hook turns logging off, for pipelines
# where tracking is disabled, on catalog datasets whose class name starts so.
class MlflowPlateReaderDataset(MlflowModelTrackingDataset):
    """Saves an ONNX plate model (an ``onnx.ModelProto``, its bytes or a path) as the reader's
    MLflow pyfunc model in the active run, registered when ``registered_model_name`` is set;
    loads the last one it logged (or ``load_args.model_uri``) with ``mlflow.pyfunc``. The
    model's ``name`` in the run is ``registered_model_name`` unless given, so the run page and
    the registry agree.

    Example catalog entry::

        export.registered_reader:
          type: plate_ocr_pipeline.datasets.mlflow_plate_reader_dataset.MlflowPlateReaderDataset
          save_args:
            registered_model_name: plate_ocr   # null: logged as plate_reader, not registered
    """

    def __init__(
        self,
        *,
        save_args: dict[str, Any] | None = None,
        load_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        save_args = dict(save_args or {})
        unknown = set(save_args) - _SAVE_ARGS
        if unknown:
            raise DatasetError(
                f"MlflowPlateReaderDataset: unknown save_args {sorted(unknown)}; "
                f"it takes {sorted(_SAVE_ARGS)}"
            )
        super().__init__(
            flavor="mlflow.pyfunc",
            pyfunc_workflow="python_model",
            save_args={
                **save_args,
                "name": save_args.get("name")
                or save_args.get("registered_model_name")
                or "plate_reader",
            },
            load_args=load_args,
            metadata=metadata,
        )

    def _save(self, model: Any) -> None:
        import mlflow

        if not self._logging_activated:
            logger.info("MLflow tracking is off for this pipeline: the reader is not logged")
            return
        if mlflow.active_run() is None:
            logger.info("No active MLflow run: the reader is not logged")
            return
        if self._user_defined_model_uri:
            raise DatasetError(
                "MlflowPlateReaderDataset: load_args.model_uri names a model to load; "
                "a logged model cannot be overwritten"
            )
        from plate_ocr_pipeline.inference.mlflow_model import log_plate_reader

        self.model_info = log_plate_reader(model, **self._save_args)
        self._last_saved_model_uri = self.model_info.model_uri
