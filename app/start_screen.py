"""The start screen when there is no last project: open a data folder, a project, or the demo."""

from __future__ import annotations

from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

CHOICES = (
    (
        "folder",
        "mdi6.folder-image",
        "Open a data folder…",
        "Images with tags.csv, tags.json, a folder per tag, or a VOC root",
    ),
    ("project", "mdi6.database-outline", "Open a project…", "A mcc_project/project.sqlite"),
    (
        "demo",
        "mdi6.play-circle-outline",
        "Try the demo",
        "120 generated scenes with 4 classes; a few come with reviewed masks",
    ),
)


class StartScreen(QWidget):
    """Big choices and the recent projects; `chosen(path or "demo")` when the user picks."""

    chosen = Signal(str)

    def __init__(self, recent: list[str]) -> None:
        super().__init__()
        self.setWindowTitle("MCC Annotate")
        title = QLabel("MCC Annotate")
        font = QFont()
        font.setPointSizeF(font.pointSizeF() * 2.0)
        font.setBold(True)
        title.setFont(font)
        subtitle = _muted("Turn image-level tags into pixel masks: fine-tune, fix, export.")
        column = QVBoxLayout()
        column.setSpacing(10)
        column.addWidget(title)
        column.addWidget(subtitle)
        column.addSpacing(16)
        self.buttons: dict[str, QPushButton] = {}
        for key, icon, text, detail in CHOICES:
            button = QPushButton(qta.icon(icon), f"  {text}")
            button.setIconSize(QSize(28, 28))
            button.setMinimumHeight(52)
            button.setToolTip(detail)
            button.setStyleSheet("text-align: left; padding-left: 14px; font-size: 11pt;")
            button.clicked.connect(lambda _=False, k=key: self._choose(k))
            column.addWidget(button)
            hint = _muted(detail)
            hint.setContentsMargins(8, 0, 0, 6)
            column.addWidget(hint)
            self.buttons[key] = button
        column.addStretch(1)
        self.recent = QListWidget()
        for path in recent:
            item = QListWidgetItem(qta.icon("mdi6.history"), Path(path).name)
            item.setToolTip(path)
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.recent.addItem(item)
        self.recent.itemActivated.connect(
            lambda item: self.chosen.emit(item.data(Qt.ItemDataRole.UserRole))
        )
        side = QVBoxLayout()
        heading = QLabel("Recent projects")
        bold = heading.font()
        bold.setBold(True)
        heading.setFont(bold)
        side.addWidget(heading)
        if recent:
            side.addWidget(self.recent)
            side.addWidget(_muted("Double-click a project to open it."))
        else:
            side.addWidget(_muted("No recent projects yet."))
            side.addStretch(1)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.VLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(36, 32, 36, 32)
        layout.setSpacing(28)
        layout.addLayout(column, 3)
        layout.addWidget(line)
        layout.addLayout(side, 2)
        self.resize(860, 460)

    def _choose(self, key: str) -> None:
        if key == "demo":
            self.chosen.emit("demo")
            return
        if key == "folder":
            path = QFileDialog.getExistingDirectory(self, "Data folder")
        else:
            path = QFileDialog.getOpenFileName(self, "Project", filter="Project (project.sqlite)")[
                0
            ]
        if path:
            self.chosen.emit(path)


def _muted(text: str) -> QLabel:
    label = QLabel(text)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    label.setWordWrap(True)
    return label
