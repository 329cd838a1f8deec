"""The main window: image list, canvas with tools, classes and tags, the model panel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMessageBox

from app import settings
from app.canvas import CanvasView
from app.device_probe import DeviceProbe
from app.dialogs import ExportDialog
from app.errors import log, show_error
from app.field_keys import FieldKeys
from app.history import EditHistory
from app.image_list import ImageListPanel
from app.jobs import Jobs
from app.menus import build_actions, build_menus, build_shortcuts
from app.model_panel import ModelPanel
from app.saver import MaskSaver
from app.shortcut_sheet import ShortcutSheet
from app.tags_panel import ClassPanel, TagsPanel
from app.thumbnails import Thumbnails
from app.toolbar import HEAT_HINTS, HEAT_KINDS, build_toolbar
from mcc_engine.data.images import read_image
from mcc_engine.errors import InputError
from mcc_engine.formats.imports import import_coco, import_labelme, import_voc
from mcc_engine.project.store import ImageInfo, Project


class MainWindow(QMainWindow):
    """One project in one window; every edit is saved as it happens."""

    open_requested = Signal(str)  # a data folder, a project file or "demo": the launcher opens it

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project
        self.histories: dict[int, EditHistory] = {}
        self.current: ImageInfo | None = None
        self._names: dict[int, str] = {}
        self._heat: np.ndarray | None = None
        self._closed = False
        self.setWindowTitle(f"MCC Annotate — {project.root.name}")
        self.canvas = CanvasView()
        self.setCentralWidget(self.canvas)
        self.thumbnails = Thumbnails(project.root, project.project_dir / "thumbnails", self)
        self.image_list = ImageListPanel(project, self.thumbnails)
        self.class_panel = ClassPanel(project)
        self.tag_list = TagsPanel()
        self.model_panel = ModelPanel("detecting…")
        self.saver = MaskSaver(project, self)
        self.jobs = Jobs(project, self.model_panel, self, before=self.saver.flush)
        for title, widget, name, area in (
            ("Images", self.image_list, "images", Qt.DockWidgetArea.LeftDockWidgetArea),
            ("Classes", self.class_panel, "classes", Qt.DockWidgetArea.RightDockWidgetArea),
            ("Tags of this image", self.tag_list, "tags", Qt.DockWidgetArea.RightDockWidgetArea),
            ("Model", self.model_panel, "model", Qt.DockWidgetArea.RightDockWidgetArea),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(name)
            dock.setWidget(widget)
            dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)  # fmt: skip
            self.addDockWidget(area, dock)
        self.icon_actions = []  # (action, icon name): redrawn when the theme changes
        build_actions(self)
        build_toolbar(self)
        build_menus(self)
        build_shortcuts(self)
        self.field_keys = FieldKeys(self, self.canvas, back_on_enter=(self.image_list.search,))
        self.sheet: ShortcutSheet | None = None
        self.statusBar().showMessage("Ready")
        self._connect()
        self._restore_settings()
        self.refresh_classes()
        self.image_list.refresh()
        self.image_list.set_current_row(0)
        checkpoint = project.latest_checkpoint()
        if checkpoint is not None:
            self.model_panel.set_status(
                f"Model from {checkpoint.parent.name} ready: propose masks, or fine-tune again."
            )
        self._device = DeviceProbe(self)
        self._device.found.connect(self.model_panel.set_device)
        self._device.start()

    def _connect(self) -> None:
        self.canvas.mask_changed.connect(lambda mask: self.saver.save(self.current.id, mask))
        self.saver.saved.connect(self._saved)
        self.saver.failed.connect(lambda _id, m: show_error(self, "Save mask", m, advice="Free disk space or check the folder's permissions; the edit stays on screen."))  # fmt: skip
        self.canvas.cursor_info.connect(self._show_cursor)
        self.image_list.image_selected.connect(self.open_image)
        self.class_panel.class_picked.connect(lambda k: setattr(self.canvas, "current_class", k))
        self.class_panel.classes_changed.connect(self.refresh_classes)
        self.class_panel.visibility_changed.connect(self.canvas.set_hidden)
        self.class_panel.failed.connect(lambda m: show_error(self, "Classes", m))
        self.tag_list.tags_edited.connect(self._tags_edited)
        self.jobs.proposals_done.connect(self._proposals_done)
        self.jobs.export_done.connect(lambda s: QMessageBox.information(self, "Export finished", s.describe()))  # fmt: skip
        self.jobs.failed.connect(lambda m: show_error(self, "MCC Annotate", m))
        self.jobs.no_work.connect(lambda title, m: QMessageBox.information(self, title, m))

    def _restore_settings(self) -> None:
        self.opacity.setValue(settings.value("opacity", 55))
        self.outline_action.setChecked(settings.value("outline", False))
        tool = settings.value("tool", "brush")
        self.set_tool(tool if tool in self.tool_actions and tool != "pan" else "brush")
        self.size_spin.setValue(settings.value("brush_size", 12))
        self.image_list.sort.setCurrentIndex(settings.value("sort", 0))
        panel = self.model_panel
        panel.preset.setCurrentText(settings.value("preset", panel.preset.currentText()))
        panel.iters.setValue(settings.value("iterations", panel.iters.value()))
        # Remembered as they change, not at close: a killed app keeps them too.
        remembered = {
            "brush_size": self.size_spin.valueChanged,
            "sort": self.image_list.sort.currentIndexChanged,
            "preset": panel.preset.currentTextChanged,
            "iterations": panel.iters.valueChanged,
        }
        for key, signal in remembered.items():
            signal.connect(lambda value, k=key: settings.set_value(k, value))

    @property
    def worker(self):
        """The running (or last) worker of the model panel's jobs."""
        return self.jobs.worker

    # -- files --------------------------------------------------------------------------------
    def ask_open(self, kind: str) -> None:
        """Ask for a data folder or a project file and open it in place of this one."""
        if kind == "folder":
            path = QFileDialog.getExistingDirectory(self, "Data folder")
        else:
            chosen = QFileDialog.getOpenFileName(self, "Project", filter="Project (project.sqlite)")
            path = chosen[0]
        if path:
            self.open_requested.emit(path)

    def export_dialog(self) -> None:
        """Ask for format and split, export in a worker, then show what was written."""
        root = self.project.root
        out = settings.export_destination(root) or root.parent / f"{root.name}-export"
        dialog = ExportDialog(self, default_out=Path(out), counts=self.mask_counts())
        if dialog.exec():
            chosen = dialog.settings()
            settings.set_export_destination(root, chosen["out"])
            self.jobs.export(chosen)

    def mask_counts(self) -> dict[str, int]:
        """How many images are in each state (new ones have no mask)."""
        self.saver.flush()
        counts: dict[str, int] = {}
        for image in self.project.images():
            counts[image.state] = counts.get(image.state, 0) + 1
        return counts

    def import_masks(self, kind: str) -> None:
        """Import corrected masks from VOC, COCO or labelme files into this project."""
        if kind == "coco":
            source = QFileDialog.getOpenFileName(self, "COCO json", filter="COCO (*.json)")[0]
        else:
            source = QFileDialog.getExistingDirectory(self, "VOC folder" if kind == "voc" else "labelme folder")  # fmt: skip
        if not source:
            return
        importer = {"voc": import_voc, "coco": import_coco, "labelme": import_labelme}[kind]
        try:
            report = importer(self.project, source)
        except InputError as exc:
            show_error(self, "Import", str(exc), advice="Choose another file.")
            return
        self.image_list.refresh()
        QMessageBox.information(self, "Import finished", report.describe())

    # -- classes, list, images ------------------------------------------------------------------
    def refresh_classes(self) -> None:
        """Redraw everything that shows classes: palette, canvas colours, tags, tag filter."""
        classes = self.project.classes()
        self._names = {c.index: c.name for c in classes} | {0: "background", 255: "unlabelled"}
        self.canvas.set_palette([(0, 0, 0)] + [c.color for c in classes])
        self.class_panel.show_classes(classes, set(self.current.labels) if self.current else set())
        self.image_list.set_classes(classes)
        if self.current is not None:
            self.tag_list.show_tags(classes, self.current.labels)

    def refresh_list(self) -> None:
        """Re-read the image list with the current filter and order."""
        self.image_list.refresh()

    def open_image(self, image_id: int) -> None:
        """Show an image with its current mask."""
        self.saver.flush()  # the mask on disk must be the last one painted
        try:
            self.current = self.project.image(image_id)
            rgb = read_image(self.project.image_path(self.current))
            mask = self.project.load_mask(image_id)
        except InputError as exc:
            show_error(self, "Open image", str(exc), advice="Fix or remove the file, then pick another image.")  # fmt: skip
            return
        history = self.histories.setdefault(image_id, EditHistory())
        self.canvas.set_image(rgb, mask, history=history)
        self.refresh_classes()
        self.show_heat_map()
        self.statusBar().showMessage(f"{self.current.rel_path} — {self.current.state}")

    def _tags_edited(self, labels: list[int]) -> None:
        self.project.set_tags(self.current.id, labels)
        self.current = self.project.image(self.current.id)
        self.class_panel.show_classes(self.project.classes(), set(self.current.labels))

    def step_image(self, delta: int) -> None:
        """Previous / next image in the list."""
        self.image_list.set_current_row(self.image_list.current_row() + delta)

    def next_unreviewed(self) -> None:
        """The next image in the list (after this one, wrapping) that is not reviewed yet."""
        self.saver.flush()
        rows, here = self.image_list.model.rows, self.image_list.current_row()
        for step in range(1, len(rows) + 1):
            row = (here + step) % len(rows)
            if rows[row].state != "reviewed":
                self.image_list.set_current_row(row)
                return
        self.statusBar().showMessage("Every image in the list is reviewed.")

    def show_shortcuts(self) -> None:
        """The sheet of every keyboard shortcut (F1, ?)."""
        if self.sheet is None:
            self.sheet = ShortcutSheet(self)
        self.sheet.show()
        self.sheet.raise_()

    # -- view ---------------------------------------------------------------------------------
    def set_outline(self, on: bool) -> None:
        """Outline mode for the mask overlay."""
        self.canvas.set_outline(on)
        settings.set_value("outline", on)

    def show_heat_map(self) -> None:
        """Show the chosen heat map (confidence or CAM of the last proposal) for this image."""
        kind = HEAT_KINDS[self.heat_combo.currentIndex()][0]
        self._heat = None
        if kind and self.current is not None:
            self._heat = self.project.heat_map(self.current.id, kind)
            if self._heat is None:
                self.statusBar().showMessage(f"No {kind} map for this image yet: propose masks first.")  # fmt: skip
            else:
                self.statusBar().showMessage(HEAT_HINTS[kind])
        self.canvas.set_heat_map(self._heat, kind)

    def cycle_heat_map(self) -> None:
        """No heat map → confidence → CAM → none (key C)."""
        self.heat_combo.setCurrentIndex((self.heat_combo.currentIndex() + 1) % len(HEAT_KINDS))

    def _show_cursor(self, x: int, y: int, value: int) -> None:
        if value < 0:
            return
        text = f"x {x}  y {y}  {self._names.get(value, value)}"
        if self._heat is not None:
            text += f"  ·  {self.heat_combo.currentText()} {self._heat[y, x] / 255:.2f}"
        self.statusBar().showMessage(text)

    # -- editing ----------------------------------------------------------------------------
    def set_tool(self, name: str) -> None:
        """Pick a tool."""
        self.canvas.set_tool(name)
        for tool, action in self.tool_actions.items():
            action.setChecked(tool == name)
        settings.set_value("tool", name)

    def _saved(self, image_id: int, seconds: float) -> None:
        if self._closed:  # a save queued before the window closed: the project is closed now
            return
        image = self.project.image(image_id)
        if self.current is not None and self.current.id == image_id:
            self.current = image
        self.statusBar().showMessage(f"Saved {image.rel_path} ({seconds * 1000:.0f} ms)")
        self.image_list.model.update_image(image)

    def undo(self) -> None:
        """Undo in this session's history, then further back through the project's revisions."""
        if self.current is None or self.canvas.undo():
            return
        self.saver.flush()
        mask = self.project.undo(self.current.id)
        if mask is not None:
            self._show_stored(mask)

    def redo(self) -> None:
        """Redo the last undone edit."""
        if self.current is not None and not self.canvas.redo():
            self.saver.flush()
            mask = self.project.redo(self.current.id)
            if mask is not None:
                self._show_stored(mask)

    def _show_stored(self, mask: np.ndarray) -> None:
        self.current = self.project.image(self.current.id)
        self.canvas.set_image(read_image(self.project.image_path(self.current)), mask,
                              history=self.histories[self.current.id])  # fmt: skip
        self.canvas.set_heat_map(self._heat, HEAT_KINDS[self.heat_combo.currentIndex()][0])
        self.image_list.model.update_image(self.current)

    def mark_reviewed(self) -> None:
        """Mark the mask right and go to the next image."""
        if self.current is None:
            return
        self.saver.flush()
        if not self.project.mask_path(self.current).is_file():
            self.project.save_mask(self.current.id, self.canvas.mask().copy(), state="reviewed")
        self.project.set_state(self.current.id, "reviewed")
        self.current = self.project.image(self.current.id)
        self.image_list.model.update_image(self.current)
        self.step_image(1)

    # -- model ------------------------------------------------------------------------------
    def start_training(self, *, resume: bool) -> None:
        """Fine-tune on the project's tags and corrections in a worker thread."""
        self.jobs.start_training(resume=resume)

    def start_proposals(self) -> None:
        """Propose masks for every image nobody edited or reviewed."""
        self.jobs.start_proposals()

    def cancel_work(self) -> None:
        """Ask the running worker to stop."""
        self.jobs.cancel()

    def _proposals_done(self, _written: int) -> None:
        self.image_list.refresh()
        if self.current is not None:
            self.open_image(self.current.id)

    def closeEvent(self, event) -> None:
        if self._closed:  # a second close (at exit) has nothing left to do
            super().closeEvent(event)
            return
        self._closed = True
        self.saver.flush()
        self.jobs.shutdown()
        self._device.stop()
        self.thumbnails.shutdown()
        settings.set_value("opacity", self.opacity.value())
        settings.set_value("brush_size", self.size_spin.value())
        settings.add_recent_project(self.project.root)
        log.info("closing %s", self.project.root)
        self.project.close()
        super().closeEvent(event)
