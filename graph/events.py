"""Change events the graph model announces, and the plain-Python observer list that sends them.

The designer's scene, validation and undo all listen to these; nothing here knows about Qt.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True, order=True)
class Edge:
    """A wire from an output port of one node to an input port of another."""
    source: str
    source_port: int
    target: str
    target_port: int

    def __str__(self):
        return f"{self.source}:{self.source_port} -> {self.target}:{self.target_port}"


@dataclass(frozen=True)
class NodeAdded:
    node: str


@dataclass(frozen=True)
class NodeRemoved:
    node: str


@dataclass(frozen=True)
class EdgeAdded:
    edge: Edge


@dataclass(frozen=True)
class EdgeRemoved:
    edge: Edge


@dataclass(frozen=True)
class ParamChanged:
    node: str
    name: str
    old: Any
    new: Any


@dataclass(frozen=True)
class NodeMoved:
    node: str
    old: tuple
    new: tuple


@dataclass(frozen=True)
class BlockChanged:
    """A block definition was added, removed or edited."""
    name: str


@dataclass(frozen=True)
class SettingsChanged:
    """Training settings or metadata changed."""
    what: str


Observer = Callable[[object], None]


class Observable:
    """subscribe / unsubscribe / emit, as in ryvencore's event system."""

    def __init__(self):
        self._observers: list[Observer] = []

    def subscribe(self, observer: Observer) -> None:
        if observer not in self._observers:
            self._observers.append(observer)

    def unsubscribe(self, observer: Observer) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    def emit(self, event: object) -> None:
        for observer in list(self._observers):
            observer(event)
