"""plate-ocr-pipeline file for ensuring the package is executable as `python -m plate_ocr_pipeline`."""

import sys
from pathlib import Path
from typing import Any


def main(*args: Any, **kwargs: Any) -> Any:
    try:  # the plain install (recognizer and plate-ocr only) has no Kedro
        from kedro.framework.cli.utils import find_run_command
        from kedro.framework.project import configure_project
    except ImportError:
        sys.exit(
            "plate-ocr-pipeline runs the Kedro project, which this install lacks: "
            "pip install '.[pipelines]' (or use plate-ocr to read plates)"
        )
    package_name = Path(__file__).parent.name
    configure_project(package_name)

    interactive = hasattr(sys, "ps1")
    kwargs["standalone_mode"] = not interactive

    run = find_run_command(package_name)
    return run(*args, **kwargs)


if __name__ == "__main__":
    main()
