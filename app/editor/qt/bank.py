"""The window's segment-bank work (SIMS): filling the layout, a region or a component with
real segments retrieved from a bank, cycling a component's candidates, and the canvas as
a view. The bank loads and retrieval runs on the engine thread; the choice is a
`BankFill` in the document, so it is saved with the project and undoes like a stroke."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtWidgets import QFileDialog

from app.editor.document import BankFill

if TYPE_CHECKING:
    from app.editor.qt.host import BankWindow

BANK_FILTER = "Segment banks (*.npz)"


class BankController:
    """The window's fills from a segment bank: choosing the bank, filling the layout, a
    region or a component, cycling candidates. It works through `window` (app/editor/qt/host.py)."""

    def __init__(self, window: BankWindow):
        self.window = window
        self.bank_missing_said: tuple[str, ...] = ()  # the classes the bank lacks, last said in the status bar

    def choose_bank_dialog(self) -> str | None:
        start = str(self.window.settings.value("bank_path", "") or "")
        path, _ = QFileDialog.getOpenFileName(self.window, "Choose a Segment Bank", start, BANK_FILTER)
        if path:
            self.window.settings.setValue("bank_path", path)
        return path or None

    def bank_path(self) -> str | None:
        """The document's bank, else the last one chosen, else one asked for."""
        if self.window.doc.bank is not None:
            return self.window.doc.bank.bank
        remembered = str(self.window.settings.value("bank_path", "") or "")
        return remembered if remembered and Path(remembered).is_file() else self.choose_bank_dialog()

    def fill_from_bank(self, scope: str) -> None:
        """scope: "layout" (every region), "region" (the class being painted) or
        "component" (the one under the cursor)."""
        path = self.bank_path()
        if path is None:
            return
        if self.window.doc.photo_edit is not None:  # the photo keeps its pixels: the bank gives texture only
            self.window.statusBar().showMessage(f"Loading the bank {Path(path).name}...")
            self.window.worker.submit(lambda: self.window.session.segment_bank(path), lambda _: self.texture_from(path))
            return
        current = self.window.doc.bank or BankFill(path, classes=frozenset())
        if scope == "component":
            self.with_component_under_cursor(
                path,
                lambda key, _: self.set_bank_fill(
                    current.adding(components=frozenset({key})), f"{self.window.doc.label_names[key[0]]} at this point"
                ),
            )
            return
        if scope == "region":
            label = self.window.canvas.label
            fill, what = current.adding(classes=frozenset({label})), f"every {self.window.doc.label_names[label]}"
        else:
            fill, what = current.adding(), "the whole layout"
        self.window.statusBar().showMessage(f"Loading the bank {Path(path).name}...")
        self.window.worker.submit(
            lambda: self.window.session.bank_painter(path), lambda _: self.set_bank_fill(fill, what)
        )

    def set_bank_fill(self, fill: BankFill, what: str) -> None:
        self.window.doc.set_bank(fill)
        self.window.statusBar().showMessage(
            f"Painting {what} from real segments of {Path(fill.bank).name} "
            "(N: the next candidate for the component under the cursor)",
            8000,
        )

    def texture_from(self, path: str) -> None:
        """A photo edit's painted shapes of classes the photo lacks (a beard on a shaven
        face) take their texture from the bank photo that holds most of the class."""
        self.window.doc.set_bank(BankFill(path))
        self.window.statusBar().showMessage(
            f"Painted shapes of classes your photo lacks take their texture from {Path(path).name}", 8000
        )

    def with_component_under_cursor(self, path: str, then) -> None:
        """`then(key, candidates)` for the component under the cursor, found on the engine thread."""
        point = self.window.canvas.last_point
        if point is None:
            self.window.statusBar().showMessage("Point at a region of the mask first", 5000)
            return
        doc, mask = self.window.doc, self.window.doc.mask.copy()  # the engine thread reads a copy: painting goes on
        probe = BankFill(path) if doc.bank is None else doc.bank

        def found(result) -> None:
            if result is None:
                self.window.statusBar().showMessage("No region there large enough to fill from the bank", 5000)
            elif doc is self.window.doc:
                then(*result)

        self.window.worker.submit(lambda: self.window.session.bank_component(mask, probe, *point), found)

    def next_bank_candidate(self) -> None:
        fill = self.window.doc.bank
        if fill is None or self.window.doc.photo_edit is not None:
            self.window.statusBar().showMessage(
                "Fill an edit of a mask from a bank first (Styles > Fill Layout from Bank)", 5000
            )
            return

        def cycle(key, candidates: int) -> None:
            current = self.window.doc.bank
            choice = (current.choice_map().get(key, 0) + 1) % candidates
            covered = current if current.covers(key[0], key) else current.adding(components=frozenset({key}))
            self.window.doc.set_bank(covered.with_choice(key, choice))
            name = self.window.doc.label_names[key[0]]
            self.window.statusBar().showMessage(f"{name}: candidate {choice + 1} of {candidates}", 4000)

        self.with_component_under_cursor(fill.bank, cycle)

    def stop_bank_fill(self) -> None:
        self.window.doc.set_bank(None)

    def shown_result(self, image):
        """What the result pane shows: the frame, or the bank's canvas when that view is on;
        a bank that lacks some of the layout's classes is named in the status bar."""
        canvas = self.window.session.last_canvas if self.window.doc.bank is not None else None
        missing = tuple(canvas.missing) if canvas is not None else ()
        if missing and missing != self.bank_missing_said:
            keep = "those regions keep their" if len(missing) > 1 else "that region keeps its"
            self.window.statusBar().showMessage(f"The bank has no {', '.join(missing)}: {keep} style", 8000)
        self.bank_missing_said = missing
        if self.window.actions.show_canvas.isChecked() and canvas is not None:
            return canvas.image
        return image
