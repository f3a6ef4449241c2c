# One-command setup and runs. Every target is idempotent: `make install` does nothing when
# .venv is already up to date with pyproject.toml and requirements-lock.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KEDRO_ENV := KEDRO_DISABLE_TELEMETRY=1 NO_ALBUMENTATIONS_UPDATE=1 TF_CPP_MIN_LOG_LEVEL=2
QUICK_ENV ?= quick

.PHONY: install test lint demo run-train keep-member keras-member run-ensemble run-infer score score-checkpoint \
  ship-model viz mlflow-ui clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert (3, 10) <= sys.version_info[:2] <= (3, 12), \
	  f"Python 3.10-3.12 needed, found {sys.version.split()[0]}"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml requirements-lock.txt
	$(BIN)/python -m pip install --quiet -c requirements-lock.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

test: install
	$(KEDRO_ENV) $(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# The main job on the embedded default, small enough for a first run on a laptop: render
# synthetic plates, then ingest, augment, train, evaluate, export and benchmark (data under
# data/quick), then read the shipped sample crops with the shipped model.
demo: install
	$(KEDRO_ENV) $(BIN)/kedro run --pipeline=synthesize --env $(QUICK_ENV)
	$(KEDRO_ENV) $(BIN)/kedro run --pipeline=train --env $(QUICK_ENV)
	$(KEDRO_ENV) $(BIN)/kedro run --pipeline=infer --env $(QUICK_ENV)
	@cat data/quick/07_model_output/predictions.csv

# The full recipe: conf/base, or ENV=<name> for a recipe in conf/<name>. RESUME=1 continues
# a cut-off training run from its last checkpoint (the rendered plates are already there).
ENV ?=
RESUME ?=
run-train: install
	$(if $(RESUME),,$(KEDRO_ENV) $(BIN)/kedro run --pipeline=synthesize $(if $(ENV),--env $(ENV)))
	$(KEDRO_ENV) $(BIN)/kedro run --pipeline=train $(if $(ENV),--env $(ENV)) \
	  $(if $(RESUME),--params=train.resume=true)

# Keep the latest train run's model as an ensemble member: NAME=plate_font copies
# data/06_models/plate_ocr.keras to data/06_models/ensemble_members/plate_font.keras.
NAME ?=
keep-member:
	@test -n "$(NAME)" || { echo "keep-member needs NAME=<member name>"; exit 2; }
	mkdir -p data/06_models/ensemble_members
	cp data/06_models/plate_ocr.keras data/06_models/ensemble_members/$(NAME).keras

# A trainable member rebuilt from an exported ONNX file (ONNX=, default the shipped model) whose
# architecture is train.model of conf/$(ARCH_ENV) (default the shipped model's): fine-tune or
# re-head a model without the run that made it. NAME=shipped writes
# data/06_models/ensemble_members/shipped.keras, ready for train.init_from.
ONNX ?=
ARCH_ENV ?=
keras-member: install
	@test -n "$(NAME)" || { echo "keras-member needs NAME=<member name>"; exit 2; }
	$(KEDRO_ENV) $(BIN)/python scripts/keras_from_onnx.py $(if $(ONNX),--onnx $(ONNX)) \
	  $(if $(ARCH_ENV),--env $(ARCH_ENV)) --out data/06_models/ensemble_members/$(NAME).keras

# Combine the kept members into one model (mean logits), then evaluate, export and benchmark
# it like a trained model: data/06_models/model.onnx, ready for `make score` / `make ship-model`.
run-ensemble: install
	$(KEDRO_ENV) $(BIN)/kedro run --pipeline=ensemble

run-infer: install
	$(KEDRO_ENV) $(BIN)/kedro run --pipeline=infer

# The shipped model (or MODEL=path.onnx) on the real US crops beside the checkout.
MODEL ?=
score: install
	$(KEDRO_ENV) $(BIN)/kedro run --pipeline=score $(if $(MODEL),--params=score.model_path=$(MODEL))

# The latest training checkpoint (or CHECKPOINT=path.keras) of a run still in progress,
# exported to data/06_models/checkpoint.onnx and scored like `make score`.
score-checkpoint: install
	$(KEDRO_ENV) $(BIN)/python scripts/export_checkpoint.py \
	  $(or $(CHECKPOINT),data/06_models/checkpoints/last.keras) data/06_models/checkpoint.onnx
	$(KEDRO_ENV) $(BIN)/kedro run --pipeline=score --params=score.model_path=data/06_models/checkpoint.onnx

# Make the latest export (data/06_models/model.onnx) the package's default model.
ship-model: install
	$(BIN)/python scripts/ship_model.py data/06_models/model.onnx

viz: install
	$(KEDRO_ENV) $(BIN)/kedro viz run

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --workers 1

clean:
	rm -rf $(VENV)
