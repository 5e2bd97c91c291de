"""Load and validate the codebook (config/codebook.yaml): items, themes, scales, scoring rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from linkseval.errors import CodebookError


def normalise_header(name: object) -> str:
    """Header key used for matching: lower case, without spaces, underscores, hyphens or dots."""
    return re.sub(r"[\s_\-.]+", "", str(name).strip().lower())


def normalise_label(value: str) -> str:
    """Text-label key used for matching: lower case, single spaces, curly quotes straightened."""
    value = value.replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", value.strip().lower())


@dataclass(frozen=True)
class Item:
    """Describe one survey item: id, theme, whether reverse-scored, and its text."""

    id: str
    theme: str
    reverse: bool
    text: str


@dataclass(frozen=True)
class Column:
    """Describe one extract column: canonical name, whether required, and its header aliases."""

    name: str
    required: bool
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Instrument:
    """One survey instrument: its columns, items, scale and scoring rules."""

    name: str
    label: str
    file_stem: str
    unit: str
    columns: tuple[Column, ...]
    items: tuple[Item, ...]
    themes: dict[str, str]  # theme id -> label, in codebook order
    scale_min: int
    scale_max: int
    labels: dict[str, int]  # normalised text label -> code
    missing_tokens: frozenset[str]  # normalised tokens meaning "no answer"
    reverse_rule: str | None
    overall: dict | None
    total: dict | None
    free_text: tuple[str, ...] = ()
    item_aliases: tuple[str, ...] = ()
    _header_map: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def item_ids(self) -> list[str]:
        """Return the item ids, in codebook order."""
        return [i.id for i in self.items]

    @property
    def reverse_items(self) -> list[str]:
        """Return the ids of the reverse-scored items."""
        return [i.id for i in self.items if i.reverse]

    def theme_items(self, theme: str) -> list[str]:
        """Return the ids of the items of ``theme``."""
        return [i.id for i in self.items if i.theme == theme]

    @property
    def outcomes(self) -> list[str]:
        """Outcome ids scored for this instrument: its themes, then the overall score if any."""
        out = list(self.themes)
        if self.overall:
            out.append(self.overall["id"])
        return out

    def header_map(self) -> dict[str, str]:
        """Normalised header (canonical or alias) -> canonical column or item id."""
        return dict(self._header_map)


def _build_header_map(columns: tuple[Column, ...], items: tuple[Item, ...], templates) -> dict:
    mapping: dict[str, str] = {}

    def add(key: str, target: str) -> None:
        k = normalise_header(key)
        if k in mapping and mapping[k] != target:
            raise CodebookError(f"header alias {key!r} maps to both {mapping[k]} and {target}")
        mapping[k] = target

    for col in columns:
        add(col.name, col.name)
        for a in col.aliases:
            add(a, col.name)
    for idx, item in enumerate(items, start=1):
        add(item.id, item.id)
        for t in templates:
            add(t.format(n=idx), item.id)
    return mapping


def _instrument(name: str, spec: dict) -> Instrument:
    try:
        themes = {k: v["label"] for k, v in spec["themes"].items()}
        items = tuple(
            Item(id=k, theme=v["theme"], reverse=bool(v.get("reverse", False)), text=v["text"])
            for k, v in spec["items"].items()
        )
        scale = spec["scale"]
        columns = tuple(
            Column(name=k, required=bool(v.get("required", False)), aliases=tuple(v["aliases"]))
            for k, v in spec["columns"].items()
        )
    except (KeyError, TypeError) as exc:
        raise CodebookError(f"instrument {name!r}: missing or malformed key {exc}") from exc
    for item in items:
        if item.theme not in themes:
            raise CodebookError(
                f"instrument {name!r}: item {item.id} has unknown theme {item.theme}"
            )
    if not {"practice_code", "respondent_id"} <= {c.name for c in columns}:
        raise CodebookError(f"instrument {name!r}: practice_code and respondent_id are required")
    lo, hi = int(scale["min"]), int(scale["max"])
    labels = {normalise_label(k): int(v) for k, v in (scale.get("labels") or {}).items()}
    if any(not lo <= v <= hi for v in labels.values()):
        raise CodebookError(f"instrument {name!r}: a text label maps outside {lo}-{hi}")
    templates = tuple(spec.get("item_aliases", []))
    return Instrument(
        name=name,
        label=spec.get("label", name),
        file_stem=spec.get("file_stem", name),
        unit=spec.get("unit", "respondent"),
        columns=columns,
        items=items,
        themes=themes,
        scale_min=lo,
        scale_max=hi,
        labels=labels,
        missing_tokens=frozenset(normalise_label(str(m)) for m in scale.get("missing", [""])),
        reverse_rule=spec.get("reverse"),
        overall=spec.get("overall"),
        total=spec.get("total"),
        free_text=tuple(spec.get("free_text", [])),
        item_aliases=templates,
        _header_map=_build_header_map(columns, items, templates),
    )


@dataclass(frozen=True)
class Codebook:
    """Hold the instruments of a codebook, by name."""

    instruments: dict[str, Instrument]
    path: str = ""

    def __getitem__(self, name: str) -> Instrument:
        """Return the instrument ``name`` (an unknown name is a :class:`CodebookError`)."""
        try:
            return self.instruments[name]
        except KeyError:
            raise CodebookError(f"{self.path}: no instrument {name!r}") from None


def load_codebook(path: str | Path) -> Codebook:
    """Read and check a codebook YAML file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CodebookError(f"{path}: cannot read codebook: {exc}") from exc
    if not isinstance(raw, dict) or "instruments" not in raw:
        raise CodebookError(f"{path}: expected a mapping with an 'instruments' key")
    return Codebook(
        instruments={k: _instrument(k, v) for k, v in raw["instruments"].items()}, path=str(path)
    )
