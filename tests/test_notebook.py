"""notebooks/first_look.ipynb: stored without outputs, and runs top to bottom (nbclient) on the
shipped model, printing real reads of the sample crops and real figures on the evaluation sets.

Skipped without nbclient/nbformat/ipykernel (the ``dev`` extra) or matplotlib/pandas (the
``pipelines`` extra); the checks on the real sets are skipped when ``../shared/datasets`` lacks
them. The kernel is the interpreter running the tests (a ``python3`` kernelspec of its own).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import pytest

from plate_ocr_pipeline.core.image_header import UNKNOWN_HEADER

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO_ROOT / "notebooks" / "first_look.ipynb"
SAMPLES = REPO_ROOT / "src" / "plate_ocr_pipeline" / "assets" / "samples"
DATASETS = REPO_ROOT.parent / "shared" / "datasets"
SETS = ("real-us-plates", "real-ar-plates")
PRESENT_SETS = [name for name in SETS if (DATASETS / name / "annotations.csv").is_file()]
ACCURACY_LINE = re.compile(
    r"^(?P<set>\S+)\s+(?P<plates>\d+) plates\s+plate_acc (?P<exact>\S+)\s+"
    r"O=0 (?P<eq>\S+)\s+char_acc (?P<char>\S+)$",
    re.MULTILINE,
)
SAMPLE_LINE = re.compile(
    r"^(?P<file>\S+)\s+label (?P<label>\S+)\s+read (?P<read>\S*)\s+conf (?P<conf>\S+)",
    re.MULTILINE,
)


def _needs_jupyter():
    for module in ("nbformat", "nbclient", "ipykernel", "matplotlib", "pandas"):
        pytest.importorskip(module)


def _execute(tmp_dir: Path, datasets: Path | None = None):
    """The notebook executed from ``notebooks/`` with a kernel of this interpreter."""
    import nbformat
    from nbclient import NotebookClient

    kernel_dir = tmp_dir / "jupyter" / "kernels" / "python3"
    kernel_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)",
        "language": "python",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(spec))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(tmp_dir / "jupyter"))  # ahead of any user kernelspec
        if datasets is not None:
            patch.setenv("PLATE_OCR_DATASETS", str(datasets))
        client = NotebookClient(
            notebook,
            timeout=180,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        )
        client.execute()
    return notebook


def _tagged(notebook, tag: str):
    cells = [c for c in notebook.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"one cell tagged {tag!r} expected, found {len(cells)}"
    return cells[0]


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def _plain(cell) -> str:
    return "".join(o["data"].get("text/plain", "") for o in cell.outputs if "data" in o)


def _has_image(cell) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    _needs_jupyter()
    return _execute(tmp_path_factory.mktemp("notebook"))


def test_notebook_is_stored_without_outputs():
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None, cell["source"][:80]


def test_notebook_run_files_gives_an_error_row_for_a_file_that_is_no_image(executed):
    lines = _stdout(_tagged(executed, "run_files")).splitlines()
    assert len(lines) == len(list(SAMPLES.glob("*.png"))) + 1
    assert [line for line in lines if "error:" in line] == [
        line for line in lines if line.startswith("samples.csv")
    ]
    assert lines[-1] == f"samples.csv error: {UNKNOWN_HEADER}"


def test_notebook_reads_the_shipped_samples(executed):
    from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer

    with open(SAMPLES.with_suffix(".csv"), newline="") as handle:
        labels = {Path(row["image_path"]).name: row["plate_text"] for row in csv.DictReader(handle)}
    printed = {m["file"]: m for m in SAMPLE_LINE.finditer(_stdout(_tagged(executed, "samples")))}
    assert sorted(printed) == sorted(labels)
    paths = sorted(SAMPLES.glob("*.png"))
    reads = dict(zip((p.name for p in paths), ONNXPlateRecognizer().run(paths), strict=True))
    for name, match in printed.items():
        assert match["label"] == labels[name]
        assert match["read"] == reads[name], (name, match["read"], reads[name])
        assert 0.0 <= float(match["conf"]) <= 1.0
    assert any(_has_image(cell) for cell in executed.cells), "no crop grid was drawn"


def _own_readings(name: str) -> tuple[list[str], list[str]]:
    """The shipped model's own texts (no format decoding) of a real set, and the truths."""
    from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer

    with open(DATASETS / name / "annotations.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    paths = [DATASETS / name / row["image_path"] for row in rows]
    texts = ONNXPlateRecognizer(format_decoding=False).run(paths)
    return texts, [row["plate_text"] for row in rows]


@pytest.mark.skipif(not PRESENT_SETS, reason=f"no evaluation sets under {DATASETS}")
def test_notebook_scores_the_real_sets(executed):
    figures = {m["set"]: m for m in ACCURACY_LINE.finditer(_stdout(_tagged(executed, "accuracy")))}
    assert sorted(figures) == sorted(PRESENT_SETS)
    total = 0
    for name, match in figures.items():
        texts, truths = _own_readings(name)
        rows = len(truths)
        assert int(match["plates"]) == rows
        total += rows
        exact, eq, char = (float(match[k]) for k in ("exact", "eq", "char"))
        assert 0.0 <= exact <= eq <= 1.0 and 0.0 <= char <= 1.0, match.group(0)
        # The printed accuracy is the model's own reading, as the recognizer reads it here.
        right = sum(text == truth for text, truth in zip(texts, truths, strict=True))
        assert round(exact * rows) == right > 0, (name, exact, right)

    # The coverage table: the most confident plates of each set; at full coverage its
    # accuracy is the set's plate_acc printed above.
    table = _plain(_tagged(executed, "coverage")).splitlines()[1:]
    coverage = [line.split() for line in table if line.split()[1:2] and line.split()[1] in SETS]
    assert len(coverage) == 7 * len(PRESENT_SETS)
    for _, name, share, threshold, plates, exact, eq in coverage:
        assert 0.5 <= float(share) <= 1.0 and 0.0 <= float(threshold) <= 1.0
        assert 0.0 <= float(exact) <= float(eq) <= 1.0 and int(plates) >= 1
        if float(share) == 1.0:
            assert abs(float(exact) - float(figures[name]["exact"])) < 1e-4
            assert abs(float(eq) - float(figures[name]["eq"])) < 1e-4

    gallery = _tagged(executed, "gallery")
    mistakes, plates = map(
        int, re.search(r"(\d+) mistakes in (\d+) plates", _stdout(gallery)).groups()
    )
    assert plates == total and 0 <= mistakes <= plates
    assert _has_image(gallery) == (mistakes > 0)


def test_notebook_runs_without_the_real_sets(tmp_path):
    _needs_jupyter()
    empty = tmp_path / "no-datasets"
    empty.mkdir()
    notebook = _execute(tmp_path, datasets=empty)
    assert "not found under" in _stdout(_tagged(notebook, "accuracy"))
    assert "0 mistakes in 0 plates" in _stdout(_tagged(notebook, "gallery"))
