"""Export and import dialogs: formats, split and encoding; a summary of what was written."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)


class ExportDialog(QDialog):
    """Choose VOC or COCO, the validation fraction, the COCO encoding and the destination."""

    def __init__(self, parent: QWidget | None, *, default_out: Path) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export dataset")
        self.format = QComboBox()
        self.format.addItems(["COCO", "PASCAL VOC"])
        self.val_fraction = QDoubleSpinBox(minimum=0.0, maximum=0.9, singleStep=0.05, value=0.2)
        self.encoding = QComboBox()
        self.encoding.addItems(["RLE", "polygons"])
        self.format.currentIndexChanged.connect(lambda i: self.encoding.setEnabled(i == 0))
        self.out = QLineEdit(str(default_out))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.out)
        row.addWidget(browse)
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("Validation fraction", self.val_fraction)
        form.addRow("COCO segmentation", self.encoding)
        form.addRow("Destination", row)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.setMinimumWidth(520)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to")
        if folder:
            self.out.setText(str(Path(folder) / "export"))

    def settings(self) -> dict:
        """Keyword arguments for export_dataset (without data and masks)."""
        return {
            "fmt": "coco" if self.format.currentIndex() == 0 else "voc",
            "val_fraction": self.val_fraction.value(),
            "coco_segmentation": "rle" if self.encoding.currentIndex() == 0 else "polygon",
            "out": Path(self.out.text()),
        }
