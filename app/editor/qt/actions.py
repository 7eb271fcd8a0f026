"""The menus, as a table: each entry is (menu, text, what it does, shortcut). The window
keeps the actions whose state it changes (undo, redo, the view toggles, refinement) in a
typed record, `Actions`."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from PyQt6.QtGui import QAction, QActionGroup, QKeySequence

from app.editor.document import MEAN
from app.editor.qt.canvas import Tool

if TYPE_CHECKING:
    from app.editor.qt.main_window import MainWindow

SEPARATOR = None
TOOLS = (
    (Tool.BRUSH, "Brush", "B"),
    (Tool.ERASER, "Eraser", "E"),
    (Tool.FILL, "Fill", "G"),
    (Tool.RECT, "Rectangle", "R"),
    (Tool.LASSO, "Lasso", "L"),
    (Tool.PICKER, "Eyedropper", "I"),
)


@dataclass(frozen=True)
class Actions:
    """The menu actions whose state the window reads or sets; the menu table names them."""

    undo: QAction
    redo: QAction
    show_photo: QAction
    composite: QAction
    before: QAction
    overlay: QAction
    show_canvas: QAction
    texture: QAction
    refine: QAction


def menu_table(w: MainWindow) -> dict[str, list]:
    """Menu -> entries (an `Actions` field or a tool's name to keep it under, or "", text,
    slot, shortcuts, checkable)."""
    brush = lambda step: lambda: w.brush_size.setValue(w.brush_size.value() + step)
    zoom = lambda factor: lambda: w.canvas.set_zoom(w.canvas.zoom * factor)
    return {
        "&File": [
            ("", "&New Blank Mask...", lambda: w.files.new_document_dialog(blank=True), "Ctrl+N", False),
            ("", "New from &Sample Mask...", lambda: w.files.new_document_dialog(blank=False), "Ctrl+Shift+N", False),
            ("", "&Open Project...", w.files.open_project_dialog, "Ctrl+O", False),
            ("", "Open &Mask...", w.files.open_mask_dialog, "Ctrl+M", False),
            ("", "Open &Photo...", w.files.open_photo_dialog, "Ctrl+P", False),
            ("", "Edit &Next Face in Photo", w.files.open_next_face, "Ctrl+Shift+F", False),
            SEPARATOR,
            ("", "&Save Project", w.files.save_project, "Ctrl+S", False),
            ("", "Save Project &As...", w.files.save_project_as, "Ctrl+Shift+S", False),
            SEPARATOR,
            ("", "&Export Result...", w.files.export_result_dialog, "Ctrl+E", False),
            ("", "Export Mas&k...", w.files.export_mask_dialog, None, False),
            ("", "Export Style &Codes...", w.files.export_codes_dialog, None, False),
            SEPARATOR,
            ("", "&Quit", w.close, "Ctrl+Q", False),
        ],
        "&Edit": [
            ("undo", "&Undo", lambda: w.doc.undo(), "Ctrl+Z", False),
            ("redo", "&Redo", lambda: w.doc.redo(), ["Ctrl+Shift+Z", "Ctrl+Y"], False),
        ],
        "&Tools": [
            *[
                (f"tool_{tool.name.lower()}", text, lambda _, t=tool: w.set_tool(t), key, True)
                for tool, text, key in TOOLS
            ],
            SEPARATOR,
            ("", "Bigger Brush", brush(2), "]", False),
            ("", "Smaller Brush", brush(-2), "[", False),
        ],
        "&View": [
            ("", "Zoom &In", zoom(1.25), ["Ctrl+=", "Ctrl++"], False),
            ("", "Zoom &Out", zoom(1 / 1.25), "Ctrl+-", False),
            ("", "&Fit", lambda: w.canvas.reset_view(), "Ctrl+0", False),
            ("show_photo", "Show Original &Photo", w.update_photo_view, "Ctrl+Shift+P", True),
            ("composite", "Result as the &Whole Photo", w.request_synthesis, "Ctrl+Shift+W", True),
            ("before", "Show &Before (the Original)", w.show_last_result, "\\", True),
            ("texture", "Painted Shapes with the Photo's &Texture", w.request_synthesis, "Ctrl+Shift+T", True),
            ("overlay", "&Overlay Mask on Photo", w.toggle_overlay, "Ctrl+Shift+O", True),
            ("show_canvas", "Show &Bank Canvas", w.show_last_result, "Ctrl+Shift+K", True),
        ],
        "&Styles": [
            ("", "&Add Style Photo...", w.styles.add_photo_dialog, "Ctrl+Shift+A", False),
            (
                "",
                "&Mean Style for All Regions",
                lambda: w.doc.apply_source(MEAN, list(range(w.doc.num_classes))),
                None,
                False,
            ),
            SEPARATOR,
            ("", "&Look from Photo...", w.styles.choose_look_dialog, "Ctrl+Shift+L", False),
            ("", "Remove Loo&k", lambda: w.doc.set_look(None), None, False),
            SEPARATOR,
            ("", "Fill Layout from &Bank", lambda: w.banks.fill_from_bank("layout"), "Ctrl+Shift+B", False),
            ("", "Fill Re&gion from Bank", lambda: w.banks.fill_from_bank("region"), None, False),
            ("", "Fill Com&ponent from Bank", lambda: w.banks.fill_from_bank("component"), None, False),
            ("", "&Next Bank Candidate", w.banks.next_bank_candidate, "N", False),
            ("", "Choose Ban&k...", w.banks.choose_bank_dialog, None, False),
            ("", "Stop Filling from Bank", w.banks.stop_bank_fill, None, False),
            SEPARATOR,
            ("refine", "&Refine Photo Styles", w.styles.remember_refine_choice, None, True),
        ],
    }


def build_menus(w: MainWindow) -> Actions:
    """The menu bar and the tools' toolbar; the named actions, as a record."""
    named: dict[str, QAction] = {}
    tool_group = QActionGroup(w)
    toolbar = w.addToolBar("Tools")
    toolbar.setObjectName("Tools")
    for title, entries in menu_table(w).items():
        menu = w.menuBar().addMenu(title)
        for entry in entries:
            if entry is SEPARATOR:
                menu.addSeparator()
                continue
            name, text, slot, shortcut, checkable = entry
            action = QAction(text, w)
            if shortcut:
                action.setShortcuts([QKeySequence(s) for s in ([shortcut] if isinstance(shortcut, str) else shortcut)])
            action.setCheckable(checkable)
            action.triggered.connect(slot)
            menu.addAction(action)
            if name:
                named[name] = action
            if name.startswith("tool_"):
                action.setToolTip(f"{text} ({shortcut})")
                action.setChecked(name == f"tool_{w.canvas.tool.name.lower()}")
                tool_group.addAction(action)
                toolbar.addAction(action)
    actions = Actions(**{f.name: named[f.name] for f in fields(Actions)})
    actions.show_photo.setChecked(True)
    actions.texture.setChecked(True)
    actions.texture.setToolTip(
        "A photo edit: a painted shape takes the texture of the photo's own pixels of its class "
        "(off: the model's synthesis, upsampled)"
    )
    actions.composite.setChecked(True)
    actions.composite.setToolTip(
        "A photo edit: show the photo at its own size with the edit composited in "
        "(off: the model's plain 256 px synthesis)"
    )
    actions.before.setToolTip("A photo edit: the result pane shows the photo as it was, to compare (\\)")
    actions.show_canvas.setToolTip(
        "Show the segments retrieved from the bank, where they go, instead of the picture made from them"
    )
    actions.refine.setToolTip(
        "Fit each new photo's style codes to the photo: closer to the photo, a few seconds of background work on a CPU"
    )
    actions.refine.setChecked(w.settings.value("refine_photos", True, type=bool))
    return actions
