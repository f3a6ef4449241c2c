"""Deterministic, parallel generation of many synthetic plates.

Plate ``i`` of a run with seed ``s`` draws from streams of its own: ``default_rng([s, i, 0])``
plans it (region, text, size), ``[s, i, 3]`` repeats a run of characters in its text,
``[s, i, 2]`` picks its serial glyph variants and ``[s, i, 1]`` renders it. So every plate is
the same whatever the worker count, labels are known without rendering, and changing the odds
of a repeated run or of a glyph variant changes only the plates that gain or lose it.

The defaults (``repeat_odds``, ``PlateDrawing``: the glyph odds of ``SerialGlyphs.draw``, the
families that take them, the regions with one glyph for O and 0, ``UsLayout``, ``ArOldLook``,
``SmallCrops``) are conf/base's recipe.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from plate_ocr_pipeline.core.cpu import available_cores

from .formats import REGION_FORMATS, groups_to_label, repeat_a_run, sample_text
from .options import ArOldLook, SerialGlyphs, SmallCrops, UsLayout, get_resources
from .renderer import DEFAULT_ALPHABET, plate_aspect, render_plate

REPEAT_ODDS = 0.3  # share of US plates with a run of one repeated character (conf/base's)
# Plate families whose serials take the glyph variants of ``SerialGlyphs`` (None: every
# family; conf/base's ``synthesize.serial_glyphs.families``).
GLYPH_FAMILIES: tuple[str, ...] | None = None
# Regions whose plate fonts draw O and 0 as one glyph, and which of the font's two it is
# (conf/base's ``synthesize.serial_glyphs.shared_o_zero``).
SHARED_O_ZERO: dict[str, str] = {}


@dataclass(frozen=True)
class PlateDrawing:
    """How plates are drawn beyond their plan: the odds of the serial glyph variants and the
    families that take them, the regions with one glyph for O and 0, the US layout ranges,
    the old Argentine look and the far plates. The defaults are conf/base's;
    ``SynthesizeParams.drawing()`` builds one from the ``synthesize`` section."""

    # Left out of the hash (a dict has none); equal drawings still hash alike.
    glyph_odds: Mapping[str, float] = field(default_factory=dict, hash=False)
    glyph_families: tuple[str, ...] | None = GLYPH_FAMILIES
    # (region, glyph) pairs, sorted: a tuple, so that the drawing hashes.
    shared_o_zero: tuple[tuple[str, str], ...] = tuple(sorted(SHARED_O_ZERO.items()))
    us_layout: UsLayout = UsLayout()
    ar_old: ArOldLook = ArOldLook()
    small_crops: SmallCrops = SmallCrops()

    @classmethod
    def of(
        cls,
        glyph_odds: Mapping[str, Any] | None = None,
        us_layout: Mapping[str, Any] | None = None,
        ar_old: Mapping[str, Any] | None = None,
        small_crops: Mapping[str, Any] | None = None,
    ) -> PlateDrawing:
        """From parameter mappings: ``glyph_odds`` as ``synthesize.serial_glyphs`` (its
        ``families`` and ``shared_o_zero`` keys included), ``us_layout``, ``ar_old`` and
        ``small_crops`` the fields of ``UsLayout``, ``ArOldLook`` and ``SmallCrops``; unset
        keys keep their defaults."""
        odds = dict(glyph_odds or {})
        families = odds.pop("families", cls.glyph_families)
        shared = odds.pop("shared_o_zero", None)
        return cls(
            glyph_odds=odds,
            glyph_families=None if families is None else tuple(families),
            shared_o_zero=cls.shared_o_zero if shared is None else tuple(sorted(shared.items())),
            us_layout=_fields(UsLayout, us_layout),
            ar_old=_fields(ArOldLook, ar_old),
            small_crops=_fields(SmallCrops, small_crops),
        )


DEFAULT_DRAWING = PlateDrawing()


@dataclass(frozen=True)
class PlatePlan:
    """What plate ``index`` shows, before rendering."""

    index: int
    region: str
    groups: tuple[str, ...]
    label: str
    width: int
    height: int


def _normalise_weights(region_weights: Mapping[str, float]) -> tuple[list[str], np.ndarray]:
    unknown = sorted(set(region_weights) - set(REGION_FORMATS))
    if unknown:
        raise ValueError(
            f"unknown region(s) {unknown} in region_weights; known: {', '.join(REGION_FORMATS)}"
        )
    regions = sorted(region_weights)
    w = np.array([float(region_weights[r]) for r in regions])
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("region_weights must be >= 0 with a positive sum")
    return regions, w / w.sum()


def plan_plate(
    seed: int,
    index: int,
    region_weights: Mapping[str, float],
    width_range: Sequence[int] = (320, 320),
    height_range: Sequence[int] = (160, 160),
    max_plate_slots: int = 10,
    alphabet: str = DEFAULT_ALPHABET,
    pad_char: str = "_",
    repeat_odds: float = REPEAT_ODDS,
) -> PlatePlan:
    """Region, text and output size of plate ``index`` (cheap: no rendering).

    ``repeat_odds``: share of US plates whose text gets a run of one repeated character
    (``repeat_a_run``)."""
    regions, p = _normalise_weights(region_weights)
    rng = np.random.default_rng([seed, index, 0])
    region = regions[int(rng.choice(len(regions), p=p))]
    groups, label = sample_text(rng, region, max_plate_slots, alphabet.replace(pad_char, ""))
    if REGION_FORMATS[region].family == "us":
        repeats = np.random.default_rng([seed, index, 3])
        if repeats.random() < repeat_odds:
            groups = repeat_a_run(repeats, groups)
            label = groups_to_label(groups, region)
    w = int(rng.integers(width_range[0], width_range[1] + 1))
    aspect = plate_aspect(region) * rng.uniform(0.9, 1.12)
    h = int(round(w / aspect))
    if REGION_FORMATS[region].two_row and h > height_range[1]:
        # A near-square plate: narrower rather than squashed into a wide crop.
        w = int(np.clip(round(height_range[1] * aspect), width_range[0], width_range[1]))
        h = int(round(w / aspect))
    h = int(np.clip(h, height_range[0], height_range[1]))
    return PlatePlan(index, region, tuple(groups), label, w, h)


def plan_plates(
    n: int,
    region_weights: Mapping[str, float],
    seed: int = 0,
    width_range: Sequence[int] = (320, 320),
    height_range: Sequence[int] = (160, 160),
    max_plate_slots: int = 10,
    alphabet: str = DEFAULT_ALPHABET,
    pad_char: str = "_",
    repeat_odds: float = REPEAT_ODDS,
) -> list[PlatePlan]:
    if n < 1:
        raise ValueError(f"num_plates must be >= 1, got {n}")
    if not 0 <= repeat_odds <= 1:
        raise ValueError(f"repeat_odds must be in [0, 1], got {repeat_odds}")
    _normalise_weights(region_weights)
    return [
        plan_plate(
            seed,
            i,
            region_weights,
            width_range,
            height_range,
            max_plate_slots,
            alphabet,
            pad_char,
            repeat_odds,
        )
        for i in range(n)
    ]


def render_planned(
    plan: PlatePlan,
    seed: int,
    fonts_dir: str | None = None,
    drawing: PlateDrawing = DEFAULT_DRAWING,
) -> np.ndarray:
    """Render the image of one planned plate (uint8 RGB, plan.height x plan.width)."""
    rng = np.random.default_rng([seed, plan.index, 1])
    # Drawn for every plate, so the variants of the families that take them do not depend on
    # which other families do.
    glyphs = SerialGlyphs.draw(np.random.default_rng([seed, plan.index, 2]), **drawing.glyph_odds)
    families = drawing.glyph_families
    if families is not None and REGION_FORMATS[plan.region].family not in families:
        # zero_for_o is the US labelling rule, not a font's glyph: it stays.
        glyphs = SerialGlyphs(zero_for_o=glyphs.zero_for_o)
    shared = dict(drawing.shared_o_zero).get(plan.region)
    if shared:
        glyphs = replace(glyphs, o_zero_glyph=shared)
    image, _ = render_plate(
        rng,
        plan.region,
        plan.width,
        plan.height,
        groups=list(plan.groups),
        fonts_dir=fonts_dir,
        glyphs=glyphs,
        us_layout=drawing.us_layout,
        ar_old=drawing.ar_old,
        small_crops=drawing.small_crops,
    )
    return image


def _fields(kind: type, values: Mapping[str, Any] | None) -> Any:
    items = (values or {}).items()
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in items})


# ------------------------------------------------------------------------ multiprocessing

_WORKER: dict = {}


def _init_worker(seed: int, fonts_dir: str | None, drawing: PlateDrawing) -> None:
    _WORKER["seed"] = seed
    _WORKER["fonts_dir"] = fonts_dir
    _WORKER["drawing"] = drawing
    get_resources(fonts_dir)


def _render_one(plan: PlatePlan) -> tuple[int, np.ndarray]:
    image = render_planned(plan, _WORKER["seed"], _WORKER["fonts_dir"], _WORKER["drawing"])
    return plan.index, image


def _render_chunk(plans: Sequence[PlatePlan]) -> list[tuple[int, np.ndarray]]:
    return [_render_one(plan) for plan in plans]


def resolve_workers(num_workers: int | None) -> int:
    if not num_workers:
        return available_cores()
    return int(num_workers)


def iter_rendered(
    plans: Sequence[PlatePlan],
    seed: int,
    num_workers: int | None = None,
    fonts_dir: str | None = None,
    progress: bool = True,
    chunksize: int = 16,
    drawing: PlateDrawing = DEFAULT_DRAWING,
) -> Iterator[tuple[PlatePlan, np.ndarray]]:
    """Yield (plan, image) in plan order, rendered by ``num_workers`` processes (0/None: all)."""
    from tqdm.auto import tqdm

    workers = resolve_workers(num_workers)
    # In a log file (no terminal) one line every 30 s, not a redraw every 0.1 s.
    interval = 0.1 if sys.stderr.isatty() else 30.0
    bar = tqdm(
        total=len(plans),
        desc="synthesize",
        unit="plate",
        disable=not progress,
        mininterval=interval,
    )
    try:
        if workers == 1 or len(plans) < 2 * chunksize:
            get_resources(fonts_dir)
            for plan in plans:
                yield plan, render_planned(plan, seed, fonts_dir, drawing)
                bar.update()
            return
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        chunks = [plans[i : i + chunksize] for i in range(0, len(plans), chunksize)]
        max_in_flight = 4 * workers  # bounded: the consumer (PNG writer) sets the pace
        with ctx.Pool(
            workers,
            initializer=_init_worker,
            initargs=(seed, fonts_dir, drawing),
        ) as pool:
            pending: deque = deque()
            next_chunk = 0
            while next_chunk < len(chunks) or pending:
                while next_chunk < len(chunks) and len(pending) < max_in_flight:
                    pending.append(pool.apply_async(_render_chunk, (chunks[next_chunk],)))
                    next_chunk += 1
                results = pending.popleft().get()
                for plan, (index, image) in zip(
                    chunks[next_chunk - len(pending) - 1], results, strict=True
                ):
                    assert index == plan.index
                    yield plan, image
                    bar.update()
    finally:
        bar.close()


def generate_plates(
    n: int,
    region_weights: Mapping[str, float] | None = None,
    seed: int = 0,
    width_range: Sequence[int] = (320, 320),
    height_range: Sequence[int] = (160, 160),
    num_workers: int | None = None,
    fonts_dir: str | None = None,
    max_plate_slots: int = 10,
    alphabet: str = DEFAULT_ALPHABET,
    pad_char: str = "_",
    progress: bool = False,
    *,
    drawing: PlateDrawing = DEFAULT_DRAWING,
    repeat_odds: float = REPEAT_ODDS,
) -> list[tuple[np.ndarray, str, str]]:
    """Render ``n`` plates in memory: list of (image uint8 RGB, label, region)."""
    from .formats import DEFAULT_REGION_WEIGHTS

    plans = plan_plates(
        n,
        region_weights or DEFAULT_REGION_WEIGHTS,
        seed,
        width_range,
        height_range,
        max_plate_slots,
        alphabet,
        pad_char,
        repeat_odds,
    )
    return [
        (image, plan.label, plan.region)
        for plan, image in iter_rendered(
            plans,
            seed,
            num_workers,
            fonts_dir,
            progress,
            drawing=drawing,
        )
    ]


class OrderedRenderStream:
    """Renders plans in parallel on first use, hands images out by index (bounded buffer)."""

    def __init__(
        self,
        plans: list[PlatePlan],
        seed: int,
        num_workers: int | None,
        fonts_dir: str | None,
        drawing: PlateDrawing = DEFAULT_DRAWING,
    ) -> None:
        self._plans, self._seed = plans, seed
        self._workers, self._fonts_dir = num_workers, fonts_dir
        self._drawing = drawing
        self._iter: Iterator | None = None
        self._buffer: dict[int, np.ndarray] = {}

    def get(self, index: int) -> Any:
        """Plate ``index`` as a PIL image (rendering up to it on first use)."""
        from PIL import Image

        if index not in self._buffer:
            if self._iter is None:
                self._iter = iter_rendered(
                    self._plans,
                    self._seed,
                    self._workers,
                    self._fonts_dir,
                    progress=True,
                    drawing=self._drawing,
                )
            for plan, image in self._iter:
                self._buffer[plan.index] = image
                if plan.index == index:
                    break
        return Image.fromarray(self._buffer.pop(index))
