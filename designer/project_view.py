"""One owner for what the window shows of the open project (ARCHITECTURE.md, section 9).

Everything on screen that comes from a project — its plots, the test-set results, generated
samples, the runs, the data preview, the canvas tint, the run state and its weights not yet saved
— belongs to that project. The window makes one `ProjectState` per document it opens (File > New,
Open, Open Recent, Open Sample, crash recovery) and hands it to every view through
`ProjectViews.open`; a view never keeps anything of a project across that call. A view joins once
(`subscribe`) and from then on is reset by the same call as every other view: there is no list of
resets to forget one in.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol


class ProjectState:
    """The view state of one open project; replaced whole when the project is."""

    def __init__(self, document):
        self.document = document
        # the last run's weights (a temporary file) until the project is saved beside them
        self.pending_weights: Path | None = None
        self.last_end: dict | None = None       # the last run's final event (or an error)
        self.events_seen = 0                    # events streamed by the runs of this project

    @property
    def graph(self):
        return self.document.graph


class ProjectView(Protocol):
    def show_project(self, project: ProjectState) -> None:
        """Drop whatever the view showed and show `project` (fresh: nothing trained yet in
        this window, only what the project's file holds, e.g. its runs)."""


class ProjectViews:
    """The views that show the open project. `open(document)` makes the project's state and
    shows it in each of them, in the order they subscribed."""

    def __init__(self):
        self._views: list[ProjectView] = []
        self.current: ProjectState | None = None

    def subscribe(self, view: ProjectView) -> None:
        if view in self._views:
            raise ValueError(f"{type(view).__name__} subscribed twice")
        self._views.append(view)
        if self.current is not None:
            view.show_project(self.current)

    def views(self) -> list[ProjectView]:
        return list(self._views)

    def open(self, document) -> ProjectState:
        self.current = ProjectState(document)
        for view in self._views:
            view.show_project(self.current)
        return self.current
