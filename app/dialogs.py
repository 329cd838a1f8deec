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
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

# What the export holds: None is every image with a mask (proposals too).
WHICH = {
    "every image with a mask": None,
    "only reviewed and edited images": ("reviewed", "edited"),
}


class ExportDialog(QDialog):
    """Choose VOC or COCO, the validation fraction, the COCO encoding and the destination."""

    def __init__(
        self, parent: QWidget | None, *, default_out: Path, counts: dict[str, int] | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export dataset")
        counts = counts or {}
        self.format = QComboBox()
        self.format.addItems(["COCO", "PASCAL VOC"])
        self.val_fraction = QDoubleSpinBox(minimum=0.0, maximum=0.9, singleStep=0.05, value=0.2)
        self.encoding = QComboBox()
        self.encoding.addItems(["RLE", "polygons"])
        self.format.currentIndexChanged.connect(lambda i: self.encoding.setEnabled(i == 0))
        self.which = QComboBox()
        self.which.addItems(list(WHICH))
        self.which.setToolTip("Only reviewed and edited: leave out the model's unchecked proposals")
        self.out = QLineEdit(str(default_out))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.out)
        row.addWidget(browse)
        form = QFormLayout(self)
        form.setContentsMargins(14, 14, 14, 14)
        form.setVerticalSpacing(8)
        if counts:
            what = QLabel(describe_counts(counts))
            what.setWordWrap(True)
            form.addRow(what)
        form.addRow("Format", self.format)
        form.addRow("Images", self.which)
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
        """Keyword arguments for export_dataset (without data and masks), and the states to keep."""
        return {
            "fmt": "coco" if self.format.currentIndex() == 0 else "voc",
            "val_fraction": self.val_fraction.value(),
            "coco_segmentation": "rle" if self.encoding.currentIndex() == 0 else "polygon",
            "out": Path(self.out.text()),
            "states": WHICH[self.which.currentText()],
        }


def describe_counts(counts: dict[str, int]) -> str:
    """What an export will hold, from the number of images in each state."""
    parts = [f"{counts.get(state, 0)} {state}" for state in ("reviewed", "edited", "proposed")]
    missing = counts.get("new", 0)
    return (
        f"Exports the masks of {parts[0]}, {parts[1]} and {parts[2]} images; "
        f"{missing} image{'s' if missing != 1 else ''} without a mask {'are' if missing != 1 else 'is'} left out."
    )
