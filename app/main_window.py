"""The main window: image list, canvas with tools, classes and tags, the model panel."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import qtawesome as qta
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QSlider,
    QSpinBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.canvas import CanvasView
from app.dialogs import ExportDialog
from app.history import EditHistory
from app.model_panel import ModelPanel
from app.workers import Worker
from mcc_engine.data.images import read_image
from mcc_engine.errors import InputError
from mcc_engine.formats.export import export_dataset
from mcc_engine.formats.imports import import_coco, import_labelme, import_voc
from mcc_engine.infer import Predictor
from mcc_engine.project.store import ImageInfo, Project
from mcc_engine.train.config import TrainConfig
from mcc_engine.train.device import device_label, pick_device
from mcc_engine.train.trainer import train

STATE_ICONS = {"new": ("mdi6.circle-outline", "#9e9e9e"), "proposed": ("mdi6.robot-outline", "#f0a030"),
               "edited": ("mdi6.pencil", "#4285f4"), "reviewed": ("mdi6.check-circle", "#34a853")}  # fmt: skip
TOOLS = (("brush", "mdi6.brush", "Brush (B)", "B"), ("eraser", "mdi6.eraser", "Eraser: background (E)", "E"),
         ("polygon", "mdi6.vector-polygon", "Polygon fill (P)", "P"),
         ("fill", "mdi6.format-color-fill", "Fill region (G)", "G"),
         ("ignore", "mdi6.texture-box", "Mark unlabelled (I)", "I"), ("pan", "mdi6.hand-back-right", "Pan (H)", "H"))  # fmt: skip


class MainWindow(QMainWindow):
    """One project in one window; every edit is saved as it happens."""

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project
        self.histories: dict[int, EditHistory] = {}
        self.current: ImageInfo | None = None
        self.worker: Worker | None = None
        self.setWindowTitle(f"MCC Annotate — {project.root.name}")
        self.canvas = CanvasView()
        self.setCentralWidget(self.canvas)
        self._build_list()
        self._build_toolbar()
        self._build_side()
        self._build_shortcuts()
        self._build_menu()
        self.statusBar().showMessage("Ready")
        self.canvas.mask_changed.connect(self._save_mask)
        self.canvas.cursor_info.connect(self._show_cursor)
        self.refresh_classes()
        self.refresh_list()
        if self.image_list.count():
            self.image_list.setCurrentRow(0)

    # -- layout -----------------------------------------------------------------------------
    def _build_list(self) -> None:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        self.search = QLineEdit(placeholderText="Search names")
        self.state_filter = QComboBox()
        self.state_filter.addItems(["all states", "new", "proposed", "edited", "reviewed"])
        self.sort = QComboBox()
        self.sort.addItems(["by name", "most uncertain first"])
        row = QHBoxLayout()
        row.addWidget(self.state_filter)
        row.addWidget(self.sort)
        self.image_list = QListWidget()
        self.image_list.setUniformItemSizes(True)
        layout.addWidget(self.search)
        layout.addLayout(row)
        layout.addWidget(self.image_list)
        dock = QDockWidget("Images", self)
        dock.setObjectName("images")
        dock.setWidget(panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.search.textChanged.connect(self.refresh_list)
        self.state_filter.currentIndexChanged.connect(self.refresh_list)
        self.sort.currentIndexChanged.connect(self.refresh_list)
        self.image_list.currentItemChanged.connect(self._open_item)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Tools")
        bar.setObjectName("tools")
        self.addToolBar(bar)
        self.tool_actions: dict[str, QAction] = {}
        for name, icon, tip, key in TOOLS:
            action = QAction(qta.icon(icon), tip, self, checkable=True)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(lambda _=False, n=name: self.set_tool(n))
            bar.addAction(action)
            self.tool_actions[name] = action
        bar.addSeparator()
        bar.addWidget(QLabel(" Size "))
        self.size_spin = QSpinBox(minimum=1, maximum=500, value=12)
        self.size_spin.valueChanged.connect(lambda v: setattr(self.canvas, "size", v))
        bar.addWidget(self.size_spin)
        bar.addWidget(QLabel(" Opacity "))
        self.opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=55)
        self.opacity.setFixedWidth(110)
        self.opacity.valueChanged.connect(lambda v: self.canvas.set_opacity(v / 100))
        self.canvas.set_opacity(0.55)
        bar.addWidget(self.opacity)
        bar.addSeparator()
        for icon, tip, slot in (("mdi6.undo", "Undo (Ctrl+Z)", self.undo), ("mdi6.redo", "Redo (Ctrl+Shift+Z)", self.redo),
                                ("mdi6.fit-to-screen", "Fit (F)", self.canvas.fit),
                                ("mdi6.check-decagram", "Mark reviewed and next (R)", self.mark_reviewed)):  # fmt: skip
            action = QAction(qta.icon(icon), tip, self)
            action.triggered.connect(slot)
            bar.addAction(action)
        self.set_tool("brush")

    def _build_side(self) -> None:
        self.class_list = QListWidget()
        self.class_list.currentRowChanged.connect(self._pick_class)
        self.tag_list = QListWidget()
        self.tag_list.itemChanged.connect(self._tags_edited)
        for title, widget, name in (
            ("Classes (1-9)", self.class_list, "classes"),
            ("Tags of this image", self.tag_list, "tags"),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(name)
            dock.setWidget(widget)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.model_panel = ModelPanel(device_label(pick_device("auto")))
        dock = QDockWidget("Model", self)
        dock.setObjectName("model")
        dock.setWidget(self.model_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.model_panel.fine_tune.connect(lambda: self.start_training(resume=False))
        self.model_panel.resume.connect(lambda: self.start_training(resume=True))
        self.model_panel.cancel.connect(self.cancel_work)
        self.model_panel.propose.connect(self.start_proposals)

    def _build_shortcuts(self) -> None:
        keys = {"A": lambda: self.step_image(-1), "D": lambda: self.step_image(1), "F": self.canvas.fit,
                "R": self.mark_reviewed, "Ctrl+Z": self.undo, "Ctrl+Shift+Z": self.redo, "Ctrl+Y": self.redo,
                "[": lambda: self.size_spin.setValue(max(1, self.size_spin.value() - 2)),
                "]": lambda: self.size_spin.setValue(self.size_spin.value() + 2)}  # fmt: skip
        for k in range(1, 10):
            keys[str(k)] = lambda k=k: self.class_list.setCurrentRow(k - 1)
        for key, slot in keys.items():
            QShortcut(
                QKeySequence(key),
                self,
                activated=slot,
                context=Qt.ShortcutContext.ApplicationShortcut,
            )

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&File")
        for text, slot in (("Export dataset…", self.export_dialog), ("Import VOC masks…", lambda: self.import_masks("voc")),
                           ("Import COCO json…", lambda: self.import_masks("coco")),
                           ("Import labelme folder…", lambda: self.import_masks("labelme"))):  # fmt: skip
            menu.addAction(text, slot)
        menu.addSeparator()
        menu.addAction("Quit", self.close)

    def export_dialog(self) -> None:
        """Ask for format and split, export in a worker, then show what was written."""
        dialog = ExportDialog(
            self, default_out=self.project.root.parent / f"{self.project.root.name}-export"
        )
        if not dialog.exec():
            return
        settings = dialog.settings()
        folder, masks = self.project.data_folder(), self.project.masks_dir

        def job(progress, should_stop):
            return export_dataset(data=folder, masks=masks, progress=lambda i, n: progress((i, n)),
                                  should_stop=should_stop, **settings)  # fmt: skip

        self._run(job, self._export_done, "Exporting")

    def _export_done(self, summary) -> None:
        self.model_panel.set_busy(False)
        QMessageBox.information(self, "Export finished", summary.describe())

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
        importer = {"voc": import_voc, "coco": import_coco, "labelme": import_labelme}[kind]
        try:
            report = importer(self.project, source)
        except InputError as exc:
            QMessageBox.warning(self, "Import", f"{exc}\n\nChoose another file.")
            return
        self.refresh_list()
        QMessageBox.information(self, "Import finished", report.describe())

    # -- classes, list, images ------------------------------------------------------------------
    def refresh_classes(self) -> None:
        """Fill the class palette, the image's tags first."""
        classes = self.project.classes()
        self.canvas.set_palette([(0, 0, 0)] + [c.color for c in classes])
        tagged = set(self.current.labels) if self.current else set()
        ordered = sorted(classes, key=lambda c: (c.index not in tagged, c.index))
        self.class_list.blockSignals(True)
        self.class_list.clear()
        for c in ordered:
            swatch = QPixmap(14, 14)
            swatch.fill(QColor(*c.color))
            item = QListWidgetItem(QIcon(swatch), f"{c.index}  {c.name}")
            item.setData(Qt.ItemDataRole.UserRole, c.index)
            self.class_list.addItem(item)
        self.class_list.blockSignals(False)
        self.class_list.setCurrentRow(0)

    def refresh_list(self) -> None:
        """Re-read the image list with the current filter and order."""
        state = self.state_filter.currentText()
        images = self.project.images(state=None if state == "all states" else state,
                                     search=self.search.text() or None,
                                     order="uncertainty" if self.sort.currentIndex() else "name")  # fmt: skip
        keep = self.current.id if self.current else None
        self.image_list.blockSignals(True)
        self.image_list.clear()
        icons = {s: qta.icon(i, color=c) for s, (i, c) in STATE_ICONS.items()}
        for image in images:
            score = "" if image.score is None else f"   ({image.score:.2f})"
            item = QListWidgetItem(icons[image.state], image.rel_path + score)
            item.setData(Qt.ItemDataRole.UserRole, image.id)
            self.image_list.addItem(item)
            if image.id == keep:
                self.image_list.setCurrentItem(item)
        self.image_list.blockSignals(False)

    def _open_item(self, item) -> None:
        if item is None:
            return
        self.open_image(item.data(Qt.ItemDataRole.UserRole))

    def open_image(self, image_id: int) -> None:
        """Show an image with its current mask."""
        self.current = self.project.image(image_id)
        rgb = read_image(self.project.image_path(self.current))
        history = self.histories.setdefault(image_id, EditHistory())
        self.canvas.set_image(rgb, self.project.load_mask(image_id), history=history)
        self.refresh_classes()
        self._fill_tags()
        self.statusBar().showMessage(f"{self.current.rel_path} — {self.current.state}")

    def _fill_tags(self) -> None:
        self.tag_list.blockSignals(True)
        self.tag_list.clear()
        for c in self.project.classes():
            item = QListWidgetItem(c.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if c.index in self.current.labels else Qt.CheckState.Unchecked
            )
            item.setData(Qt.ItemDataRole.UserRole, c.index)
            self.tag_list.addItem(item)
        self.tag_list.blockSignals(False)

    def _tags_edited(self, _item) -> None:
        labels = [self.tag_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.tag_list.count())
                  if self.tag_list.item(i).checkState() == Qt.CheckState.Checked]  # fmt: skip
        self.project.set_tags(self.current.id, labels)
        self.current = self.project.image(self.current.id)

    def step_image(self, delta: int) -> None:
        """Previous / next image in the list."""
        row = self.image_list.currentRow() + delta
        if 0 <= row < self.image_list.count():
            self.image_list.setCurrentRow(row)

    # -- editing ----------------------------------------------------------------------------
    def set_tool(self, name: str) -> None:
        """Pick a tool."""
        self.canvas.tool = name
        for tool, action in self.tool_actions.items():
            action.setChecked(tool == name)

    def _pick_class(self, row: int) -> None:
        item = self.class_list.item(row)
        if item is not None:
            self.canvas.current_class = item.data(Qt.ItemDataRole.UserRole)

    def _save_mask(self, mask: np.ndarray) -> None:
        started = time.perf_counter()
        self.project.save_mask(self.current.id, mask.copy())
        self.current = self.project.image(self.current.id)
        self.statusBar().showMessage(
            f"Saved {self.current.rel_path} ({(time.perf_counter() - started) * 1000:.0f} ms)"
        )
        self._update_row_icon()

    def _update_row_icon(self) -> None:
        item = self.image_list.currentItem()
        if item is not None and self.current is not None:
            icon, color = STATE_ICONS[self.current.state]
            item.setIcon(qta.icon(icon, color=color))

    def undo(self) -> None:
        """Undo in this session's history, then further back through the project's revisions."""
        if self.current is None or self.canvas.undo():
            return
        mask = self.project.undo(self.current.id)
        if mask is not None:
            self.current = self.project.image(self.current.id)
            self.canvas.set_image(read_image(self.project.image_path(self.current)), mask,
                                  history=self.histories[self.current.id])  # fmt: skip

    def redo(self) -> None:
        """Redo the last undone edit."""
        if self.current is not None and not self.canvas.redo():
            mask = self.project.redo(self.current.id)
            if mask is not None:
                self.canvas.set_image(read_image(self.project.image_path(self.current)), mask,
                                      history=self.histories[self.current.id])  # fmt: skip

    def mark_reviewed(self) -> None:
        """Mark the mask right and go to the next image."""
        if self.current is None:
            return
        if self.project.load_mask(self.current.id) is None:
            self.project.save_mask(self.current.id, self.canvas.mask().copy(), state="reviewed")
        self.project.set_state(self.current.id, "reviewed")
        self.current = self.project.image(self.current.id)
        self._update_row_icon()
        self.step_image(1)

    def _show_cursor(self, x: int, y: int, value: int) -> None:
        if value >= 0:
            names = {c.index: c.name for c in self.project.classes()} | {
                0: "background",
                255: "unlabelled",
            }
            self.statusBar().showMessage(f"x {x}  y {y}  {names.get(value, value)}")

    # -- model ------------------------------------------------------------------------------
    def _run(self, job, done, label: str = "Working") -> None:
        self._work_label = label
        if self.worker is not None:  # a QThread must end before its object goes away
            self.worker.wait()
        self.worker = Worker(job)
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(done)
        self.worker.failed.connect(self._on_failed)
        self.model_panel.set_busy(True)
        self.worker.start()

    def start_training(self, *, resume: bool) -> None:
        """Fine-tune on the project's tags and corrections in a worker thread."""
        runs = sorted(self.project.runs_dir.glob("run-*")) if self.project.runs_dir.exists() else []
        if resume and not (runs and (runs[-1] / "last.pt").exists()):
            QMessageBox.information(self, "Resume", "There is no interrupted run to resume.")
            return
        init = self.project.latest_checkpoint()
        cfg = TrainConfig(preset=self.model_panel.preset.currentText(), iters=self.model_panel.iters.value(),
                          out=str(self.project.runs_dir / time.strftime("run-%Y%m%d-%H%M%S")),
                          init=str(init) if init else None, masks=str(self.project.masks_dir),
                          mask_images=self.project.corrected_images(), save_every=50, log_every=5)  # fmt: skip
        if resume:
            cfg = TrainConfig(resume=str(runs[-1]), iters=None)
        folder = self.project.data_folder()
        self.model_panel.curve.clear()
        self._run(lambda progress, should_stop: train(cfg, folder=folder, progress=progress, should_stop=should_stop),
                  self._training_done)  # fmt: skip

    def _on_progress(self, p) -> None:
        if hasattr(p, "losses"):
            self.model_panel.progress.setMaximum(p.total)
            self.model_panel.progress.setValue(p.step)
            self.model_panel.curve.add(p.losses["total"])
            self.model_panel.status.setText(f"Step {p.step}/{p.total} — loss {p.losses['total']:.3f} — "
                                            f"{p.eta_seconds / 60:.1f} min left")  # fmt: skip
        else:
            done, total = p
            self.model_panel.progress.setMaximum(total)
            self.model_panel.progress.setValue(done)
            self.model_panel.status.setText(f"{self._work_label}: {done}/{total}")

    def _training_done(self, result) -> None:
        self.model_panel.set_busy(False)
        self.project.add_run(result.run_dir, result.last_checkpoint, kind="fine-tune",
                             settings={"step": result.step, "cancelled": result.cancelled})  # fmt: skip
        word = "Stopped (checkpoint kept; Resume continues)" if result.cancelled else "Trained"
        self.model_panel.status.setText(f"{word} at step {result.step}.")

    def start_proposals(self) -> None:
        """Propose masks for every image nobody edited or reviewed."""
        checkpoint = self.project.latest_checkpoint()
        if checkpoint is None:
            QMessageBox.information(self, "Propose masks", "Fine-tune a model first.")
            return
        targets = [i for i in self.project.images() if i.state in ("new", "proposed")]
        project = self.project

        def job(progress, should_stop):
            predictor = Predictor.from_checkpoint(checkpoint)
            scores = {}
            for n, image in enumerate(targets):
                if should_stop():
                    break
                pred = predictor.predict(read_image(project.image_path(image)), image.labels)
                score = pred.uncertainty(image.labels)
                project.save_proposal(image.id, pred.mask, score=score)
                scores[image.id] = score
                progress((n + 1, len(targets)))
            return scores

        self._run(job, self._proposals_done, "Proposing masks")

    def _proposals_done(self, scores) -> None:
        self.model_panel.set_busy(False)
        self.model_panel.status.setText(f"Proposed masks for {len(scores)} images.")
        self.refresh_list()
        if self.current is not None:
            self.open_image(self.current.id)

    def cancel_work(self) -> None:
        """Ask the running worker to stop."""
        if self.worker is not None:
            self.worker.stop()

    def _on_failed(self, message: str) -> None:
        self.model_panel.set_busy(False)
        QMessageBox.warning(self, "MCC Annotate", message)

    def closeEvent(self, event) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker.wait()
        QSettings().setValue("recent_project", str(self.project.root))
        self.project.close()
        super().closeEvent(event)


def choose_start(parent=None) -> Path | str | None:
    """The first-start question: open a data folder, open a project, or try the demo."""
    box = QMessageBox(parent)
    box.setWindowTitle("MCC Annotate")
    box.setText("Welcome to MCC Annotate. What would you like to open?")
    folder = box.addButton("Open a data folder…", QMessageBox.ButtonRole.AcceptRole)
    project = box.addButton("Open a project…", QMessageBox.ButtonRole.AcceptRole)
    demo = box.addButton("Try the demo", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    if box.clickedButton() is folder:
        return QFileDialog.getExistingDirectory(parent, "Data folder") or None
    if box.clickedButton() is project:
        return (
            QFileDialog.getOpenFileName(parent, "Project", filter="Project (project.sqlite)")[0]
            or None
        )
    if box.clickedButton() is demo:
        return "demo"
    return None
