"""Keys the user remapped (``[keys]`` in the config file), checked against the app's bindings.

Every binding of the app carries an id (``details.export``); Textual's keymap replaces the keys
of the bindings it names. An id the app does not have is a typo that would silently do nothing,
and a key given to a second action of the same screen does only one of them (Textual reports
no clash between bindings that have ids): the app says both.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from textual.binding import Binding
from textual.dom import DOMNode
from textual.keys import _normalize_key_list

_PACKAGES = ("notify_tui.ui.screens", "notify_tui.ui.dialogs", "notify_tui.ui.widgets")


def _subclasses(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _classes() -> list[type[DOMNode]]:
    """The app and every screen, dialog and widget class (their modules imported: screens are
    otherwise imported when first shown)."""
    from notify_tui.ui.app import NotifyApp

    for package_name in _PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{module.name}")
    return [NotifyApp, *_subclasses(DOMNode)]


def _bindings(cls: type[DOMNode]) -> list[Binding]:
    """The bindings of ``cls`` with its bases' (as Textual merges them)."""
    return [
        binding
        for bindings in cls._merge_bindings().key_to_bindings.values()
        for binding in bindings
    ]


@dataclass(frozen=True)
class KeymapCheck:
    """What is wrong with a ``[keys]`` table."""

    unknown: list[str]
    """Ids that name no binding, in the order written."""
    clashes: list[tuple[str, list[str]]]
    """Keys that, remapped, do two actions of one screen or widget: (key, binding ids)."""


def check_keymap(keys: Mapping[str, str]) -> KeymapCheck:
    """The ids of ``keys`` that name no binding of the app, and the keys that would do two
    things in one place (Textual would run the first and never the other)."""
    keymap = {binding_id: _normalize_key_list(spelled) for binding_id, spelled in keys.items()}
    known: set[str] = set()
    clashes: dict[str, set[str]] = {}
    for cls in _classes():
        doing: dict[str, set[str]] = {}
        for binding in _bindings(cls):
            if not binding.id:
                continue
            known.add(binding.id)
            spelled = keymap.get(binding.id, binding.key)
            for key in spelled.split(","):
                doing.setdefault(key.strip(), set()).add(binding.id)
        for key, ids in doing.items():
            # Several ids on one key are fine when the user set none of them (an action and
            # its "why not", say): only a remap can make a clash.
            if len(ids) > 1 and ids & keymap.keys():
                clashes.setdefault(key, set()).update(ids)
    unknown = [binding_id for binding_id in keys if binding_id not in known]
    return KeymapCheck(unknown, [(key, sorted(ids)) for key, ids in sorted(clashes.items())])


WHY_NOT = "_why_not"
"""Suffix of the binding that says why an action cannot act (same key, shown where it can't)."""


def with_why_nots(keys: Mapping[str, str]) -> dict[str, str]:
    """``keys`` with each action's "why not" binding given the same keys: remapping Resume
    alone would leave R saying why it cannot resume, even where it can."""
    keymap = dict(keys)
    for binding_id, spelled in keys.items():
        keymap.setdefault(binding_id + WHY_NOT, spelled)
    return keymap
