"""Plates of a labelled set grouped as the reports show them: by region label, by the plate
kind its formats fit (``ar/ar-old``) and by layout (``ar/two-row``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import pandas as pd

from plate_ocr_pipeline.core.plate_formats import ROW_BREAK, matching_format, region_label_family


def _label_group(label: str, label_families: dict[str, list[str]]) -> str:
    """A region label as the reports group it: listed in ``region_labels`` as it is, else its
    family (``us-ca`` -> ``us``)."""
    return label if label in label_families else region_label_family(label)


def _accepted_families(label: str, label_families: dict[str, list[str]]) -> list[str]:
    """The families a set's region label stands for: ``region_labels`` first (a real set's
    ``ar`` covers every Argentine plate type), else the label's own family."""
    if label in label_families:
        return label_families[label]
    return [label] if label else []


def label_plates(
    regions: Sequence[str], truths: Sequence[str], label_families: dict[str, list[str]]
) -> pd.DataFrame:
    """Per plate of a set: its region label as the reports group it (``label``: listed in
    ``region_labels`` as it is, else its family, ``us-ca`` -> ``us``), the families that label
    stands for (``families``), and where it stands for several, the one whose formats the true
    text fits (``kind``: ``ar/ar-old``, ``ar/mercosur``) and its layout (``layout``:
    ``ar/one-row``, ``ar/two-row``); ``""`` for other plates."""
    rows = []
    for region, truth in zip(regions, truths, strict=True):
        label = _label_group(str(region), label_families)
        fit = matching_format(truth, label_families[label]) if label in label_families else None
        rows.append({
            "label": label,
            "families": _accepted_families(label, label_families),
            "kind": f"{label}/{fit[0]}" if fit else "",
            "layout": f"{label}/{'two-row' if ROW_BREAK in fit[1] else 'one-row'}" if fit else "",
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["label", "families", "kind", "layout"])


def unknown_label_families(
    region_labels: Mapping[str, Mapping[str, Sequence[str]]], known: Collection[str]
) -> list[str]:
    """Each ``region_labels`` entry naming a family outside ``known`` (a misspelt family would
    never match the family read, and its plates would count as misread regions), as
    ``set: label -> [families]``; empty when all are known."""
    return [
        f"{set_name}: {label} -> {sorted(set(families) - set(known))}"
        for set_name, labels in region_labels.items()
        for label, families in labels.items()
        if set(families) - set(known)
    ]


def check_label_families(
    region_labels: Mapping[str, Mapping[str, Sequence[str]]], known: Collection[str]
) -> None:
    """Raises ``ValueError`` naming every ``region_labels`` family outside ``known``."""
    unknown = unknown_label_families(region_labels, known)
    if unknown:
        raise ValueError(
            f"region_labels names families the model does not know ({'; '.join(unknown)}); "
            f"known: {', '.join(sorted(known))}"
        )


def report_groups(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The rows of a per-plate table with ``label_plates``' columns as the reports group
    them: ``(all)``, each label, then each plate kind and layout."""
    groups = [("(all)", table), *table.groupby("label")]
    for column in ("kind", "layout"):
        groups += [(key, group) for key, group in table.groupby(column) if key]
    return groups
