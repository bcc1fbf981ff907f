"""The user-editable vocabulary (YAML): CLIP categories and prompts, object classes -> tags.

Loaded and validated once per task; a mistake in the file is a SettingsError naming the line's
category or label, because a half-loaded vocabulary would silently tag the wrong things.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import SettingsError

BUNDLED = os.path.join(os.path.dirname(__file__), "data", "vocabulary.yaml")


@dataclass(frozen=True)
class Label:
    tag: str | None            # None: a background label, never written
    prompts: tuple[str, ...]
    threshold: float
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Category:
    name: str
    exclusive: bool
    markers: bool
    labels: tuple[Label, ...]


@dataclass(frozen=True)
class ObjectClass:
    coco: str
    tag: str
    min_confidence: float
    min_area: float
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    path: str
    defaults: dict[str, Any]
    categories: tuple[Category, ...]
    objects: dict[str, ObjectClass]

    @property
    def all_prompts(self) -> list[str]:
        return [p for c in self.categories for label in c.labels for p in label.prompts]


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise SettingsError(f"vocabulary: {where} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _prob(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise SettingsError(f"vocabulary: {where} must be a number between 0 and 1, got {value!r}")
    return float(value)


def load_vocabulary(path: str = "") -> Vocabulary:
    path = path or BUNDLED
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh) or {}
    except FileNotFoundError:
        raise SettingsError(f"vocabularyFile {path!r} does not exist") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"vocabularyFile {path!r} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise SettingsError(f"vocabularyFile {path!r} must hold a mapping at the top level")
    defaults = dict(doc.get("defaults") or {})
    default_threshold = _prob(defaults.get("threshold", 0.5), "defaults.threshold")
    categories = []
    for i, cat in enumerate((doc.get("clip") or {}).get("categories") or []):
        name = str(cat.get("name") or f"category {i + 1}")
        labels = []
        for j, lab in enumerate(cat.get("labels") or []):
            where = f"clip category {name!r} label {j + 1}"
            prompts = _strs(lab.get("prompts"), f"{where} prompts")
            if not prompts:
                raise SettingsError(f"vocabulary: {where} has no prompts")
            tag = lab.get("tag")
            labels.append(Label(tag=str(tag).strip() if tag else None, prompts=prompts,
                                threshold=_prob(lab.get("threshold", default_threshold),
                                                f"{where} threshold"),
                                aliases=_strs(lab.get("aliases"), f"{where} aliases")))
        if not any(label.tag for label in labels):
            raise SettingsError(f"vocabulary: clip category {name!r} has no label with a tag")
        categories.append(Category(name=name, exclusive=bool(cat.get("exclusive", True)),
                                   markers=bool(cat.get("markers", False)), labels=tuple(labels)))
    obj = doc.get("objects") or {}
    min_conf = _prob(obj.get("min_confidence", 0.5), "objects.min_confidence")
    min_area = _prob(obj.get("min_area", 0.0), "objects.min_area")
    objects = {}
    for coco, spec in (obj.get("classes") or {}).items():
        spec = spec if isinstance(spec, dict) else {"tag": spec}
        if not spec.get("tag"):
            raise SettingsError(f"vocabulary: object class {coco!r} has no tag")
        objects[str(coco)] = ObjectClass(
            coco=str(coco), tag=str(spec["tag"]),
            min_confidence=_prob(spec.get("min_confidence", min_conf), f"objects.{coco}.min_confidence"),
            min_area=_prob(spec.get("min_area", min_area), f"objects.{coco}.min_area"),
            aliases=_strs(spec.get("aliases"), f"objects.{coco}.aliases"))
    return Vocabulary(path=path, defaults=defaults, categories=tuple(categories), objects=objects)
