"""Thumbnails, filters, heat map, outline, replace class, classes, errors, settings, start."""

import logging
import sys

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.app.conftest import saved_mask
from tests.app.test_main_window import _drag, _view_point


def _pixel(window, x, y):
    """The colour the canvas shows at image pixel (x, y)."""
    window.canvas.viewport().repaint()
    image = window.canvas.viewport().grab().toImage()
    point = _view_point(window, x + 0.5, y + 0.5)
    return image.pixelColor(point).getRgb()[:3]


def test_a_thumbnail_appears_for_a_row_and_is_cached_on_disk(make_window, qtbot):
    window = make_window()
    model = window.image_list.model
    index = model.index(2)
    qtbot.waitUntil(
        lambda: model.data(index, Qt.ItemDataRole.DecorationRole) is not None, timeout=20000
    )
    pixmap = model.data(index, Qt.ItemDataRole.DecorationRole)
    assert max(pixmap.width(), pixmap.height()) == 96
    assert list((window.project.project_dir / "thumbnails").rglob("*.jpg"))


def test_tag_filter_hides_rows_without_the_tag(make_window):
    window = make_window()
    panel = window.image_list
    total = panel.count()
    panel.tag_filter.setCurrentIndex(panel.tag_filter.findText("fish"))
    fish = panel.tag_filter.currentData()
    assert 0 < panel.count() < total
    assert all(fish in row.labels for row in panel.model.rows)
    panel.tag_filter.setCurrentIndex(0)
    assert panel.count() == total


def test_heat_map_toggle_changes_the_displayed_pixels(make_window):
    window = make_window()
    image = window.current
    h, w = image.height, image.width
    ramp = np.tile(np.linspace(0, 1, w, dtype=np.float32), (h, 1))
    window.project.save_proposal(image.id, np.zeros((h, w), np.uint8), confidence=ramp, cam=ramp)
    window.jobs.proposals_done.emit(1)  # as the propose job ends: the window reads masks afresh
    window.open_image(image.id)
    left, right = (2, h // 2), (w - 3, h // 2)
    before = _pixel(window, *left), _pixel(window, *right)
    window.heat_combo.setCurrentIndex(1)  # confidence: hot where unsure (left), clear where sure
    unsure, sure = _pixel(window, *left), _pixel(window, *right)
    assert unsure != before[0] and unsure[0] > unsure[2]
    assert sure == before[1]
    window.heat_combo.setCurrentIndex(2)  # CAM: hot where it activates (right)
    cold, hot = _pixel(window, *left), _pixel(window, *right)
    assert cold == before[0] and hot != before[1] and hot[0] > hot[2]
    window.heat_combo.setCurrentIndex(0)
    assert _pixel(window, *left) == before[0]


def test_outline_mode_clears_the_inside_of_a_region(make_window):
    window = make_window()
    window.set_tool("polygon")
    window.canvas.current_class = 1
    for x, y in ((10, 10), (60, 10), (60, 60), (10, 60)):
        QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         _view_point(window, x, y))  # fmt: skip
    window.canvas.close_polygon()
    window.opacity.setValue(100)
    filled = _pixel(window, 35, 35)
    window.outline_action.trigger()
    assert window.canvas.overlay.outline
    inside, edge = _pixel(window, 35, 35), _pixel(window, 10, 35)
    assert inside != filled
    assert edge == filled  # the boundary keeps the class colour
    assert saved_mask(window)[35, 35] == 1  # a view mode: the mask is unchanged


def test_replace_class_changes_the_saved_mask(make_window):
    window = make_window()
    window.canvas.current_class = 1
    _drag(window, (10, 20), (60, 20))
    assert (saved_mask(window) == 1).sum() > 0
    window.canvas.current_class = 3
    window.set_tool("replace")
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     _view_point(window, 35, 20))  # fmt: skip
    mask = saved_mask(window)
    assert (mask == 1).sum() == 0 and mask[20, 35] == 3
    window.undo()
    assert saved_mask(window)[20, 35] == 1


def test_classes_can_be_renamed_and_added(make_window):
    window = make_window()
    panel = window.class_panel
    item = panel.list.item(0)
    index = item.data(Qt.ItemDataRole.UserRole)
    item.setText("seaweed")
    names = {c.index: c.name for c in window.project.classes()}
    assert names[index] == "seaweed"
    assert "seaweed" in [window.tag_list.item(i).text() for i in range(window.tag_list.count())]
    panel.new_name.setText("crab")
    QTest.keyClick(panel.new_name, Qt.Key.Key_Return)
    assert [c.name for c in window.project.classes()][-1] == "crab"
    assert panel.list.count() == len(names) + 1
    assert window.image_list.tag_filter.findText("crab") > 0


def test_a_duplicate_class_name_is_refused_with_a_dialog(make_window, monkeypatch):
    window = make_window()
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    item = window.class_panel.list.item(0)
    other = next(
        c for c in window.project.classes() if c.index != item.data(Qt.ItemDataRole.UserRole)
    )
    item.setText(other.name.upper())
    assert shown and "exists already" in shown[0]
    assert len({c.name.casefold() for c in window.project.classes()}) == len(
        window.project.classes()
    )
    assert (
        window.class_panel.list.item(0).text() != other.name.upper()
    )  # the list shows the real name


@pytest.mark.qt_no_exception_capture
def test_an_unexpected_exception_shows_a_dialog_and_the_window_lives_on(
    make_window, qtbot, monkeypatch
):
    from app.errors import install_excepthook, log_file, setup_logging

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    setup_logging()
    install_excepthook()
    window = make_window()

    def broken_slot():
        raise RuntimeError("a bug in a slot")

    QTimer.singleShot(0, broken_slot)

    def error_box():
        boxes = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.isVisible()
        ]
        return boxes[0] if boxes else None

    qtbot.waitUntil(lambda: error_box() is not None, timeout=5000)
    assert "a bug in a slot" in error_box().text()
    assert window.isVisible()
    first = window.current.id
    window.step_image(1)  # the window still works
    assert window.current.id != first
    error_box().close()
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_file().read_text()
    assert "RuntimeError: a bug in a slot" in text and "broken_slot" in text


def test_error_dialogs_are_also_written_to_the_log_file(qtbot, monkeypatch):
    from app.errors import log_file, setup_logging, show_error

    monkeypatch.setattr(QMessageBox, "warning", lambda *a: None)
    setup_logging()
    show_error(None, "Open image", "/data/x.jpg: truncated image", advice="Fix the file.")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "/data/x.jpg: truncated image" in log_file().read_text()


def test_settings_bring_back_tool_opacity_and_recent_project(make_window, qtbot):
    from app import settings
    from app.main_window import MainWindow
    from mcc_engine.project.store import Project

    window = make_window()
    root = window.project.root
    window.set_tool("eraser")
    window.opacity.setValue(30)
    window.close()
    assert settings.recent_projects()[0] == str(root.resolve())
    again = MainWindow(Project.open(root))
    qtbot.addWidget(again)
    assert again.canvas.tool == "eraser" and again.tool_actions["eraser"].isChecked()
    assert again.opacity.value() == 30
    again.close()


def test_space_drag_pans_without_painting(make_window, qtbot):
    window = make_window()
    canvas = window.canvas
    canvas.scale(6, 6)
    canvas.centerOn(64, 64)
    before = saved_mask(window)
    bar = canvas.horizontalScrollBar().value()
    canvas.setFocus()
    QTest.keyPress(canvas, Qt.Key.Key_Space)
    viewport = canvas.viewport()
    center = viewport.rect().center()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, center)
    QTest.mouseMove(viewport, center + QPoint(120, 0))
    QTest.mouseRelease(
        viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, center + QPoint(120, 0)
    )
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    assert canvas.horizontalScrollBar().value() < bar
    after = saved_mask(window)
    assert (before is None and after is None) or np.array_equal(before, after)


def test_start_screen_opens_a_data_folder(qtbot, tmp_path, monkeypatch):
    from app.launcher import Launcher
    from mcc_engine.data.demo import write_demo

    data = tmp_path / "data"
    write_demo(data, count=6, seed=1)
    launcher = Launcher()
    start = launcher.show_start()
    qtbot.addWidget(start)
    assert {"folder", "project", "demo"} <= set(start.buttons)
    monkeypatch.setattr("app.start_screen.QFileDialog.getExistingDirectory", lambda *a: str(data))
    start.buttons["folder"].click()
    window = launcher.window
    assert window is not None and window.isVisible() and window.image_list.count() == 6
    assert launcher.start is None
    window.close()


def test_dark_theme_changes_the_palette():
    from app.theme import theme

    app = QApplication.instance()
    themes = theme(app)
    themes.apply("dark")
    assert themes.is_dark()
    themes.apply("light")
    assert not themes.is_dark()


def test_device_probe_names_the_device_from_a_separate_process(qtbot):
    from app.device_probe import DeviceProbe, device_name

    probe = DeviceProbe()
    with qtbot.waitSignal(probe.found, timeout=120000) as blocker:
        probe.start(separate=True)  # as a fresh window does, before torch is loaded
    assert probe.process is not None
    assert blocker.args[0] == device_name()


def test_saves_run_in_order_off_the_window_thread_and_reach_the_list(make_window, qtbot):
    window = make_window()
    for cls, y in ((1, 10), (2, 14), (3, 18)):
        window.canvas.current_class = cls
        _drag(window, (5, y), (70, y))
    np.testing.assert_array_equal(saved_mask(window), window.canvas.mask())
    row = window.image_list.current_row()
    qtbot.waitUntil(lambda: window.image_list.model.rows[row].state == "edited", timeout=5000)
    steps = 0
    while window.project.can_undo(window.current.id):  # one stored revision per stroke
        window.project.undo(window.current.id)
        steps += 1
    assert steps == 3


def test_a_folder_that_cannot_be_opened_gets_a_dialog_naming_it(qtbot, tmp_path, monkeypatch):
    from app.launcher import Launcher

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    missing = tmp_path / "no such folder"
    assert Launcher().open(str(missing)) is None
    assert str(missing) in shown[0] and "try the demo" in shown[0]


def test_name_search_filters_the_list_after_a_pause_in_typing(make_window, qtbot):
    window = make_window()
    panel = window.image_list
    QTest.keyClicks(panel.search, "0003")
    qtbot.waitUntil(lambda: panel.count() == 1, timeout=3000)
    assert panel.model.rows[0].rel_path.endswith("scene_0003.jpg")


def test_the_fitted_image_refits_when_the_window_resizes_until_the_user_zooms(make_window, qtbot):
    window = make_window()
    canvas = window.canvas
    fitted = canvas.transform().m11()
    window.resize(1800, 1200)
    qtbot.waitUntil(lambda: canvas.transform().m11() > fitted * 1.2)
    wheel = QWheelEvent(QPointF(50, 50), QPointF(50, 50), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)  # fmt: skip
    QApplication.sendEvent(canvas.viewport(), wheel)
    zoomed = canvas.transform().m11()
    window.resize(1000, 700)
    qtbot.waitUntil(lambda: canvas.viewport().width() < 900)
    assert canvas.transform().m11() == zoomed
