# One-command setup and runs. Every target is idempotent: `make install` does nothing when
# .venv is already up to date with pyproject.toml and requirements-lock.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KEDRO_ENV := KEDRO_DISABLE_TELEMETRY=1 NO_ALBUMENTATIONS_UPDATE=1 TF_CPP_MIN_LOG_LEVEL=2
QUICK_ENV ?= quick

.PHONY: install test lint demo run-train run-infer score compare score-checkpoint ship-model viz mlflow-ui clean
comma := ,
space := $() $()

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 12), \
	  f"Python 3.11-3.12 needed, found {sys.version.split()[0]}"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml requirements-lock.txt
	$(BIN)/python -m pip install --quiet -c requirements-lock.txt -e ".[all,dev]"
	@touch $(STAMP)

install: $(STAMP)

# One pytest-xdist worker per core; worksteal keeps both busy while a long test runs.
test: install
	$(KEDRO_ENV) $(BIN)/python -m pytest -q -n auto --dist worksteal

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

# The main job on the embedded default, small enough for a first run on a laptop: the train
# chain in the quick environment (render a few synthetic plates, ingest, augment, train,
# evaluate, export, benchmark; data under data/quick), then read the shipped sample crops
# with the shipped model.
demo: install
	$(KEDRO_ENV) $(BIN)/kedro run --pipelines=train --env $(QUICK_ENV)
	$(KEDRO_ENV) $(BIN)/kedro run --pipelines=infer --env $(QUICK_ENV)
	@cat data/quick/07_model_output/predictions.csv

# The shipped model's recipe (conf/base), or ENV=<name>. Renders the synthetic set first when
# it is not on disk yet; a cut-off run continues from its last checkpoint when run again.
ENV ?=
run-train: install
	$(KEDRO_ENV) $(BIN)/kedro run --pipelines=train $(if $(ENV),--env $(ENV))

run-infer: install
	$(KEDRO_ENV) $(BIN)/kedro run --pipelines=infer

# The shipped model (or MODEL=path.onnx) on the real labelled sets beside the checkout.
MODEL ?=
score: install
	$(KEDRO_ENV) $(BIN)/kedro run --pipelines=score $(if $(MODEL),--params=score.model_path=$(MODEL))

# Every ONNX model in data/06_models/candidates (or CANDIDATES=<folder>, a path without
# spaces or commas) side by side on the real labelled sets; BASELINE=<name> adds each
# figure's difference from that candidate's.
CANDIDATES ?=
BASELINE ?=
COMPARE_PARAMS = $(strip $(if $(CANDIDATES),compare.candidates_dir=$(CANDIDATES)) \
	$(if $(BASELINE),compare.baseline=$(BASELINE)))
compare: install
	$(KEDRO_ENV) $(BIN)/kedro run --pipelines=compare \
	  $(if $(COMPARE_PARAMS),--params=$(subst $(space),$(comma),$(COMPARE_PARAMS)))

# The latest training checkpoint (or CHECKPOINT=path.keras) of a run still in progress,
# exported to data/06_models/checkpoint.onnx and scored like `make score`.
score-checkpoint: install
	$(KEDRO_ENV) $(BIN)/python scripts/export_checkpoint.py \
	  $(or $(CHECKPOINT),data/06_models/checkpoints/last.keras) data/06_models/checkpoint.onnx
	$(KEDRO_ENV) $(BIN)/kedro run --pipelines=score --params=score.model_path=data/06_models/checkpoint.onnx

# Make the latest run's model the package's default: its static INT8 copy where the export
# made one (the float32 model beside it as default_fp32.onnx), and plate_ocr.keras.
ship-model: install
	$(BIN)/python scripts/ship_model.py data/06_models/model.onnx data/06_models/plate_ocr.keras \
		$(wildcard data/06_models/quantized/model_int8.onnx)

viz: install
	$(KEDRO_ENV) $(BIN)/kedro viz run

mlflow-ui: install
	@echo "Each kedro run ends by logging its run page; any page opens in the model-training view"
	@echo "with ?workflowType=machine_learning (MLflow 3.17 otherwise opens the GenAI view)."
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --workers 1

clean:
	rm -rf $(VENV)
