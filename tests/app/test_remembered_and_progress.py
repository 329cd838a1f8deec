"""Finding 11: unlabelled looks unlike background, settings are remembered, long work shows
progress from its first second, Resume fills the loss curve and is offered only when it can."""

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox

from tests.app.test_keys_and_view import _click, _key, _type
from tests.app.test_main_window import _drag, _view_point


def _grab(window):
    window.canvas.viewport().repaint()
    return window.canvas.viewport().grab().toImage()


def _at(image, window, x, y):
    return image.pixelColor(_view_point(window, x + 0.5, y + 0.5)).getRgb()[:3]


def test_unlabelled_and_background_look_different(make_window):
    window = make_window()
    assert window.project.load_mask(window.current.id) is None  # all unlabelled (255)
    window.opacity.setValue(100)
    _key(window, Qt.Key.Key_E)  # the eraser paints background (0)
    _drag(window, (10, 20), (60, 20))
    shown = _grab(window)
    window.canvas.overlay.setVisible(False)
    plain = _grab(window)
    window.canvas.overlay.setVisible(True)
    assert _at(shown, window, 35, 20) == _at(plain, window, 35, 20)  # background: clear
    for x in range(30, 38):  # unlabelled: marked at every pixel
        assert _at(shown, window, x, 70) != _at(plain, window, x, 70), x


def _answer(kind, action):
    """Run `action(dialog)` once a modal dialog of `kind` runs its own event loop."""

    def attempt():
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, kind):
            try:
                action(dialog)
            finally:  # a failing step must not leave the test waiting on the dialog
                dialog.done(dialog.result())
        else:
            QTimer.singleShot(10, attempt)

    QTimer.singleShot(0, attempt)


def test_sort_iterations_brush_size_and_export_destination_are_remembered(
    make_window, qtbot, tmp_path, monkeypatch
):
    from app.dialogs import ExportDialog
    from app.main_window import MainWindow
    from mcc_engine.project.store import Project

    shown = []
    for kind in ("information", "warning"):
        monkeypatch.setattr(QMessageBox, kind, lambda *a: shown.append(a[2]))
    window = make_window()
    _drag(window, (10, 20), (60, 20))  # one mask to export
    root = window.project.root
    sort = window.image_list.sort
    sort.setFocus()
    QTest.keyClick(sort, Qt.Key.Key_Down)
    assert sort.currentIndex() == 1
    _click(window.model_panel.iters)
    _key(window, Qt.Key.Key_End)
    for _ in range(6):
        _key(window, Qt.Key.Key_Backspace)
    _type(window, "77")
    _key(window, Qt.Key.Key_Return)
    size = window.size_spin.value()
    _key(window, Qt.Key.Key_BracketRight)
    _key(window, Qt.Key.Key_BracketRight)
    target = tmp_path / "my exports" / "round1"

    def fill_in(dialog):
        dialog.out.selectAll()
        QTest.keyClicks(dialog.out, str(target))
        _click(dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok))

    _answer(ExportDialog, fill_in)
    window.export_dialog()
    qtbot.waitUntil(lambda: bool(shown), timeout=60000)
    assert shown[0].startswith("exported 1 images")
    window.close()

    again = MainWindow(Project.open(root))
    qtbot.addWidget(again)
    assert again.image_list.sort.currentIndex() == 1
    assert again.model_panel.iters.value() == 77
    assert again.size_spin.value() == size + 4
    seen = []
    _answer(ExportDialog, lambda dialog: (seen.append(dialog.out.text()), dialog.reject()))
    again.export_dialog()
    assert seen == [str(target)]
    again.close()


def _tiny(window, iters):
    panel = window.model_panel
    if panel.preset.findText("tiny") < 0:
        panel.preset.addItem("tiny")
    panel.preset.setCurrentText("tiny")
    panel.iters.setValue(iters)


def _record(window):
    """Each status the model panel shows, with its progress bar's maximum (0: busy, no count)."""
    seen = []
    panel = window.model_panel
    panel.status_changed.connect(lambda text: seen.append((text, panel.progress.maximum())))
    return seen


def test_fine_tune_shows_its_stages_before_the_first_step_then_resume_fills_the_curve(
    make_window, qtbot
):
    from app.main_window import MainWindow
    from mcc_engine.project.store import Project

    window = make_window()
    panel = window.model_panel
    assert not panel.resume_button.isEnabled()  # nothing to resume yet
    _tiny(window, 5000)
    seen = _record(window)
    _click(panel.train_button)
    with qtbot.waitSignal(window.worker.progress, timeout=60000):
        pass
    qtbot.waitUntil(lambda: len(panel.curve.values) >= 12, timeout=60000)  # two log rows
    with qtbot.waitSignal(window.worker.cancelled, timeout=60000):  # a stop is no failure
        _click(panel.cancel_button)
    qtbot.waitUntil(lambda: "Stopped" in panel.status.text(), timeout=10000)
    stages = [text for text, maximum in seen if maximum == 0]  # a busy bar: no step yet
    assert any("Preparing" in t for t in stages) and any("first step" in t for t in stages)
    assert panel.resume_button.isEnabled()  # an interrupted run
    root = window.project.root
    window.close()

    again = MainWindow(Project.open(root))
    qtbot.addWidget(again)
    assert again.model_panel.resume_button.isEnabled()
    _click(again.model_panel.resume_button)
    run = max(p for p in again.project.runs_dir.iterdir() if p.name.startswith("run-"))
    rows = (run / "log.csv").read_text().splitlines()[1:]
    logged = again.model_panel.curve.values[:]  # before the resumed run's first step
    assert len(logged) == len(rows) >= 2
    assert logged[-1] == float(rows[-1].split(",")[2])  # the total loss column
    with qtbot.waitSignal(again.worker.progress, timeout=60000):
        pass
    with qtbot.waitSignal(again.worker.cancelled, timeout=60000):
        again.cancel_work()
    again.close()


def test_a_finished_run_offers_no_resume_and_proposing_shows_an_eta(make_window, qtbot):
    window = make_window()
    panel = window.model_panel
    _tiny(window, 2)
    _click(panel.train_button)
    with qtbot.waitSignal(window.worker.finished, timeout=120000):
        pass
    qtbot.waitUntil(lambda: "Trained" in panel.status.text(), timeout=10000)
    assert not panel.resume_button.isEnabled()
    seen = _record(window)
    _click(panel.propose_button)
    with qtbot.waitSignal(window.worker.finished, timeout=120000):
        pass
    assert any("Proposing" in text and "left" in text for text, _ in seen), seen
