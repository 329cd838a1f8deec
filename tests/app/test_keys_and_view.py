"""The habits of annotation tools: zoom to the cursor, single keys that never type into fields,
class keys that keep their meaning, the Edit menu, the shortcut sheet, hiding a class, next
unreviewed. Every step is a real key, mouse or wheel event."""

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QLineEdit,
    QStyle,
    QStyleOptionViewItem,
)

from tests.app.conftest import saved_mask
from tests.app.test_main_window import _drag


def _key(window, key, modifier=Qt.KeyboardModifier.NoModifier):
    # Through the window system, as a real key press goes, so that shortcuts fire.
    window.activateWindow()
    QTest.keyClick(window.windowHandle(), key, modifier)


def _type(window, text):
    for char in text:
        _key(window, Qt.Key(ord(char.upper())))


def _wheel(canvas, point: QPoint, notches: int = 1):
    event = QWheelEvent(
        QPointF(point),
        QPointF(canvas.viewport().mapToGlobal(point)),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas.viewport(), event)


def _scene_at(canvas, point: QPoint) -> QPointF:
    return canvas.mapToScene(point)


def _click(widget, point=None):
    QTest.mouseClick(
        widget,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        point if point is not None else widget.rect().center(),
    )


# -- finding 6: zoom keeps the pixel under the cursor ------------------------------------------
def test_wheel_zoom_keeps_the_pixel_under_the_cursor_also_after_fit(make_window):
    window = make_window()
    canvas = window.canvas
    _key(window, Qt.Key.Key_F)
    viewport = canvas.viewport().rect()
    for point in (
        QPoint(viewport.width() // 5, viewport.height() // 4),
        QPoint(viewport.width() * 4 // 5, viewport.height() * 3 // 4),
    ):
        _key(window, Qt.Key.Key_F)
        for notches in (1, 1, 1, -1, 1):
            before = _scene_at(canvas, point)
            scale = canvas.transform().m11()
            _wheel(canvas, point, notches)
            assert canvas.transform().m11() != scale  # it zoomed
            after = _scene_at(canvas, point)
            # Within one screen pixel, in image pixels: the view rounds to whole screen pixels.
            limit = 1.5 / min(scale, canvas.transform().m11())
            assert abs(after.x() - before.x()) <= limit and abs(after.y() - before.y()) <= limit


# -- finding 7: single keys never type into fields; Escape leaves a field ------------------------
def test_after_a_search_d_steps_to_the_next_image_instead_of_typing(make_window, qtbot):
    window = make_window()
    panel = window.image_list
    first = window.current.rel_path
    _click(panel.search)
    assert panel.search.hasFocus()
    _type(window, "000")
    _key(window, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.count() == 8, timeout=3000)
    _key(window, Qt.Key.Key_D)
    assert panel.search.text() == "000"
    assert window.current.rel_path != first and window.current.rel_path.endswith("scene_0001.jpg")
    QTest.qWait(200)  # the search's typing pause: a typed "d" would now empty the list
    assert panel.count() == 8


def test_after_typing_an_iteration_count_d_steps_and_goes_into_no_field(make_window):
    window = make_window()
    iters, size = window.model_panel.iters, window.size_spin.value()
    first = window.current.rel_path
    _click(iters)
    _key(window, Qt.Key.Key_End)
    for _ in range(6):
        _key(window, Qt.Key.Key_Backspace)
    _type(window, "123")
    _key(window, Qt.Key.Key_D)
    assert window.current.rel_path != first
    assert iters.value() == 123 and window.size_spin.value() == size
    assert not isinstance(QApplication.focusWidget(), QLineEdit | QAbstractSpinBox)


def test_escape_leaves_any_field_for_the_canvas(make_window):
    window = make_window()
    for field in (
        window.image_list.search,
        window.model_panel.iters,
        window.size_spin,
        window.class_panel.new_name,
    ):
        _click(field)
        assert QApplication.focusWidget() is not window.canvas
        _key(window, Qt.Key.Key_Escape)
        assert window.canvas.hasFocus(), field


# -- finding 8: key k is class k on every image; the image's tags are marked, not moved ----------
def test_number_keys_pick_the_same_class_on_every_image(make_window):
    window = make_window()
    names = {c.index: c.name for c in window.project.classes()}
    seen_tagged = set()
    for row in range(4):  # images with different tags (leaf; sun; sun and fish; boat)
        window.image_list.set_current_row(row)
        for k in (1, 2, 3):
            _key(window, Qt.Key(ord(str(k))))
            assert window.canvas.current_class == k, (row, k)
            assert window.class_panel.list.currentItem().text() == names[k]
        tags = set(window.current.labels)
        for i in range(window.class_panel.list.count()):
            item = window.class_panel.list.item(i)
            assert item.text() == names[i + 1]  # never re-ordered
            assert item.font().bold() == (i + 1 in tags)  # the image's tags are marked
        seen_tagged |= tags
    assert len(seen_tagged) >= 3


# -- the Edit menu, the shortcut sheet, hiding a class, next unreviewed ---------------------------
def test_edit_menu_undoes_and_redoes_with_its_keys_shown(make_window):
    window = make_window()
    edit = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Edit")
    actions = {a.text().replace("&", ""): a for a in edit.actions() if a.text()}
    undo, redo = actions["Undo"], actions["Redo"]
    assert undo.shortcut().toString() == "Ctrl+Z"
    assert {s.toString() for s in redo.shortcuts()} == {"Ctrl+Shift+Z", "Ctrl+Y"}
    window.canvas.current_class = 2
    _drag(window, (10, 20), (60, 20))
    assert saved_mask(window)[20, 35] == 2
    undo.trigger()
    assert saved_mask(window) is None or saved_mask(window)[20, 35] != 2
    _key(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert saved_mask(window)[20, 35] == 2
    _key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert saved_mask(window) is None or saved_mask(window)[20, 35] != 2


def _sheet(window):
    from app.shortcut_sheet import ShortcutSheet

    return next(
        (
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, ShortcutSheet) and w.isVisible()
        ),
        None,
    )


def test_f1_and_question_mark_show_a_sheet_of_every_shortcut(make_window, qtbot):
    from PySide6.QtGui import QAction, QShortcut

    window = make_window()
    _key(window, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: _sheet(window) is not None, timeout=3000)
    sheet = _sheet(window)
    listed = sheet.listed_keys()
    keys = {s.key().toString() for s in window.findChildren(QShortcut)}
    for action in window.findChildren(QAction):
        keys |= {s.toString() for s in action.shortcuts()}
    keys.discard("")
    assert keys and keys <= listed, keys - listed
    assert {"Space", "Esc"} <= listed  # the canvas's own keys are there too
    sheet.close()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    _key(window, Qt.Key.Key_Question)  # as QTest.keyClicks types "?"
    qtbot.waitUntil(lambda: _sheet(window) is not None, timeout=3000)
    _sheet(window).close()


def _check_box(view, item):
    """Where the style draws an item's check box in a list view."""
    option = QStyleOptionViewItem()
    option.initFrom(view)
    option.rect = view.visualItemRect(item)
    option.features |= QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
    option.features |= QStyleOptionViewItem.ViewItemFeature.HasDecoration
    option.decorationSize = view.iconSize()
    return view.style().subElementRect(
        QStyle.SubElement.SE_ItemViewItemCheckIndicator, option, view
    )


def test_a_class_can_be_hidden_in_the_overlay(make_window):
    from tests.app.test_features import _pixel

    window = make_window()
    window.opacity.setValue(100)
    window.canvas.current_class = 3
    _drag(window, (10, 20), (60, 20))
    painted = _pixel(window, 35, 20)
    panel = window.class_panel
    item = panel.list.item(2)  # class 3
    box = _check_box(panel.list, item)
    _click(panel.list.viewport(), box.center())
    assert item.checkState() == Qt.CheckState.Unchecked
    hidden = _pixel(window, 35, 20)
    assert hidden != painted
    _click(panel.list.viewport(), box.center())
    assert _pixel(window, 35, 20) == painted
    assert saved_mask(window)[20, 35] == 3  # a view setting: the mask is unchanged


def test_n_goes_to_the_next_unreviewed_image(make_window):
    window = make_window()
    for row in (1, 2):
        image = window.image_list.model.rows[row]
        window.project.set_state(image.id, "reviewed")
    window.image_list.refresh()
    window.image_list.set_current_row(0)
    _key(window, Qt.Key.Key_N)
    assert window.current.rel_path.endswith("scene_0003.jpg")
    menu_item = next(
        a
        for a in window.findChildren(type(window.menuBar().actions()[0]))
        if a.text().replace("&", "").startswith("Next unreviewed")
    )
    menu_item.trigger()
    assert window.current.rel_path.endswith("scene_0004.jpg")
