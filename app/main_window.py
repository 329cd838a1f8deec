"""The main window: image list, canvas with tools, classes and tags, the model panel."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMessageBox

from app import settings
from app.canvas import CanvasView
from app.click_tool import ClickTool
from app.device_probe import DeviceProbe
from app.dialogs import ExportDialog
from app.errors import log, show_error
from app.field_keys import FieldKeys
from app.image_list import ImageListPanel
from app.jobs import Jobs
from app.menus import build_actions, build_menus, build_shortcuts
from app.model_panel import ModelPanel
from app.saver import MaskSaver
from app.shortcut_sheet import ShortcutSheet
from app.tagging_mode import TaggingMode
from app.tags_panel import ClassPanel, TagsPanel
from app.thumbnails import Thumbnails
from app.toolbar import HEAT_HINTS, HEAT_KINDS, build_toolbar
from mcc_engine.data.images import read_image
from mcc_engine.errors import InputError
from mcc_engine.formats.imports import import_coco, import_labelme, import_voc
from mcc_engine.project.history import MaskHistory
from mcc_engine.project.store import ImageInfo, Project

CACHED_HISTORIES = 4  # images whose undo steps stay in memory (each holds its mask)


class MainWindow(QMainWindow):
    """One project in one window; every edit is saved as it happens."""

    open_requested = Signal(str)  # a data folder, a project file or "demo": the launcher opens it

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project
        self.current: ImageInfo | None = None
        self.history: MaskHistory | None = None  # the current image's; strokes go to it
        self._histories: OrderedDict[int, MaskHistory] = OrderedDict()
        self._names: dict[int, str] = {}
        self._heat: np.ndarray | None = None
        self._closed = False
        self.setWindowTitle(f"MCC Annotate — {project.root.name}")
        self.canvas = CanvasView()
        self.setCentralWidget(self.canvas)
        self.click_tool = ClickTool(
            self.canvas, project, class_name=lambda k: self._names.get(k, str(k))
        )
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
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            )
            self.addDockWidget(area, dock)
        self.icon_actions = []  # (action, icon name): redrawn when the theme changes
        self.tagging = TaggingMode(self)  # the tagging view beside the canvas, Save tags
        build_actions(self)
        build_toolbar(self)
        build_menus(self)
        build_shortcuts(self)
        self.field_keys = FieldKeys(self, self.canvas, back_on_enter=(self.image_list.search,))
        self.sheet: ShortcutSheet | None = None
        self.statusBar().showMessage("Ready")
        self.statusBar().addPermanentWidget(self.click_tool.label)
        self._connect()
        self._restore_settings()
        self.refresh_classes()
        self.image_list.refresh()
        self.image_list.set_current_row(0)
        self._show_reconcile_report()
        self.tagging.open_if_untagged()
        checkpoint = project.latest_checkpoint()
        if checkpoint is not None:
            self.model_panel.set_status(
                f"Model from {checkpoint.parent.name} ready: propose masks, or fine-tune again."
            )
        self._device = DeviceProbe(self)
        self._device.found.connect(self.model_panel.set_device)
        self._device.start()

    def _connect(self) -> None:
        self.saver.saved.connect(self._saved)
        self.saver.failed.connect(self._save_failed)
        self.saver.stale.connect(self._history_stale)
        self.canvas.cursor_info.connect(self._show_cursor)
        self.image_list.image_selected.connect(self.open_image)
        self.class_panel.class_picked.connect(lambda k: setattr(self.canvas, "current_class", k))
        self.class_panel.class_picked.connect(self.click_tool.set_class)
        self.class_panel.classes_changed.connect(self.refresh_classes)
        self.class_panel.visibility_changed.connect(self.canvas.set_hidden)
        self.class_panel.failed.connect(lambda m: show_error(self, "Classes", m))
        self.tag_list.tags_edited.connect(self._tags_edited)
        self.jobs.proposals_done.connect(self._proposals_done)
        self.jobs.export_done.connect(
            lambda s: QMessageBox.information(self, "Export finished", s.describe())
        )
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
            source = QFileDialog.getExistingDirectory(
                self, "VOC folder" if kind == "voc" else "labelme folder"
            )
        if not source:
            return
        self.saver.flush()
        importer = {"voc": import_voc, "coco": import_coco, "labelme": import_labelme}[kind]
        try:
            report = importer(self.project, source)
        except InputError as exc:
            show_error(self, "Import", str(exc), advice="Choose another file.")
            return
        self._forget_histories()
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
        self.tagging.set_classes(classes)
        if self.current is not None:
            self.tag_list.show_tags(classes, self.current.labels)

    def refresh_list(self) -> None:
        """Re-read the image list with the current filter and order."""
        self.image_list.refresh()

    def open_image(self, image_id: int) -> None:
        """Show an image with its mask; if it cannot be read, the image shown stays in charge."""
        try:
            image = self.project.image(image_id)
            rgb = read_image(self.project.image_path(image))
            history = self._history_for(image, rgb.shape[:2])
        except InputError as exc:
            self.image_list.select_quietly(self.current.id if self.current else None)
            show_error(
                self,
                "Open image",
                str(exc),
                advice="Fix or remove the file, then pick another image.",
            )
            return
        self.current, self.history = replace(image, state=history.state), history
        self.canvas.set_image(rgb, history)
        self.click_tool.show_image(image.id, rgb, image.labels)
        self.refresh_classes()
        self.show_heat_map()
        self.statusBar().showMessage(f"{self.current.rel_path} — {self.current.state}")

    def _history_for(self, image: ImageInfo, shape: tuple[int, int]) -> MaskHistory:
        """The image's history: kept in memory from earlier, or read from the project."""
        history = self._histories.pop(image.id, None)
        if history is None or history.mask.shape != shape:
            self.saver.flush()  # the project must hold every change made so far
            mask = self.project.load_mask(image.id)
            if mask is not None and mask.shape != shape:
                raise InputError(
                    self.project.mask_path(image),
                    f"mask size {mask.shape[1]}x{mask.shape[0]} differs from the image's {shape[1]}x{shape[0]}",
                )
            history = MaskHistory(
                self.project.history(image.id), mask, shape=shape, sink=self.saver
            )
            history.subscribe(lambda _rect, h=history: self._history_changed(h))
        self._histories[image.id] = history
        while len(self._histories) > CACHED_HISTORIES:
            self._histories.popitem(last=False)
        return history

    def _forget_histories(self) -> None:
        """Drop the histories kept in memory and show the current image as the project has it
        (after work that changed masks behind them: imports, proposals)."""
        self.saver.flush()
        self._histories.clear()
        if self.current is not None:
            self.open_image(self.current.id)

    def _show_reconcile_report(self) -> None:
        report = self.project.reconcile_report.describe()
        if report:
            log.info("opening %s: %s", self.project.root, report)
            self.statusBar().showMessage(f"Opened the project: {report}.")

    def _tags_edited(self, labels: list[int]) -> None:
        self.project.set_tags(self.current.id, labels)  # one step of the tag history
        self.current = replace(self.project.image(self.current.id), state=self.history.state)
        self.image_list.model.update_image(self.current)
        self.image_list.show_counts()
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
                self.statusBar().showMessage(
                    f"No {kind} map for this image yet: propose masks first."
                )
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
        self.click_tool.set_tool(name)
        for tool, action in self.tool_actions.items():
            action.setChecked(tool == name)
        settings.set_value("tool", name)

    def _history_changed(self, history: MaskHistory) -> None:
        """The current image's history moved: show its state in the list and the status bar."""
        if history is self.history and history.state != self.current.state:
            self.current = replace(self.current, state=history.state)
            self.image_list.model.update_image(self.current)

    def _saved(self, image_id: int, seconds: float) -> None:
        if self._closed:  # a save queued before the window closed: the project is closed now
            return
        model = self.image_list.model
        row = model.row_of(image_id)
        name = model.rows[row].rel_path if row is not None else f"image {image_id}"
        self.statusBar().showMessage(f"Saved {name} ({seconds * 1000:.0f} ms)")

    def _save_failed(self, image_id: int, message: str) -> None:
        self._resync(image_id, keep_pixels=True)
        show_error(
            self,
            "Save mask",
            message,
            advice="Free disk space or check the folder's permissions; the edit stays on screen "
            "and is saved with the next one.",
        )

    def _history_stale(self, image_id: int) -> None:
        """Another writer (an import, a proposal) changed an image's history under the window:
        take the project's history, and keep what the window shows as an edit on top of it."""
        log.info(
            "image %s changed outside the window; its shown mask is kept as a new edit", image_id
        )
        history = self._histories.get(image_id)
        self._resync(image_id, keep_pixels=True)
        if history is not None and history is self.history:
            stored = self.project.load_mask(image_id)
            if stored is None or not np.array_equal(stored, history.mask):
                history.commit_whole()

    def _resync(self, image_id: int, *, keep_pixels: bool) -> None:
        """After a failed or stale change: the image's history becomes the project's again."""
        self.saver.recover(image_id)
        history = self._histories.get(image_id)
        if history is None:
            return
        if history is not self.history:  # read afresh when it is shown next
            del self._histories[image_id]
            return
        mask = None if keep_pixels else self.project.load_mask(image_id)
        history.resync(self.project.history(image_id), mask, keep_pixels=keep_pixels)

    def undo(self) -> None:
        """Go back one revision of the current image (Ctrl+Z); in tagging mode, one tag change;
        while a click or box proposal shows, take back its last click instead."""
        if self.tagging.active:
            self.tagging.undo()
            return
        if self.click_tool.undo_click():
            return
        self._move(lambda history: history.undo())

    def redo(self) -> None:
        """Go forward one revision of the current image (Ctrl+Shift+Z); or one tag change."""
        if self.tagging.active:
            self.tagging.redo()
            return
        self._move(lambda history: history.redo())

    def _move(self, step) -> None:
        if self.history is None or self.canvas.stroking():
            return
        try:
            step(self.history)
        except InputError as exc:
            show_error(self, "Undo", str(exc), advice="The stored revision cannot be read.")
        except KeyError:  # the revision went: another writer changed the history
            self._history_stale(self.history.image_id)

    def mark_reviewed(self) -> None:
        """Mark the mask right and go to the next image (an undo takes the mark back)."""
        if self.history is None:
            return
        if self.history.has_mask:
            self.history.set_state("reviewed")
        else:  # a reviewed image has a mask file, even one all unlabelled
            self.history.commit_whole(state="reviewed")
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
        self._forget_histories()

    def closeEvent(self, event) -> None:
        if self._closed:  # a second close (at exit) has nothing left to do
            super().closeEvent(event)
            return
        self._closed = True
        self.saver.close()
        self.click_tool.shutdown()
        self.jobs.shutdown()
        self._device.stop()
        self.thumbnails.shutdown()
        settings.set_value("opacity", self.opacity.value())
        settings.set_value("brush_size", self.size_spin.value())
        settings.add_recent_project(self.project.root)
        log.info("closing %s", self.project.root)
        self.project.close()
        super().closeEvent(event)
