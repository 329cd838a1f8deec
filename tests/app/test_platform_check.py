"""Before Qt starts on X11: missing xcb libraries give the one apt command, exit status 2."""

import pytest

from app import platform_check
from app.platform_check import XCB_LIBRARIES, apt_command, loadable, missing_xcb, system_library

X11 = {"DISPLAY": ":0"}
ABSENT = {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"}


def _without(absent):
    return lambda soname: soname not in absent


def test_missing_libraries_give_one_apt_command_with_their_packages():
    missing = missing_xcb(environ=X11, load=_without(ABSENT), platform="linux")
    assert set(missing) == ABSENT
    command = apt_command(missing)
    assert command == "sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"
    assert "\n" not in command


@pytest.mark.parametrize(
    "environ, platform",
    [
        ({}, "linux"),  # no X display: Qt will not load xcb
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux"),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}, "linux"),
        ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, "linux"),
        (X11, "darwin"),
        (X11, "win32"),
    ],
)
def test_nothing_is_checked_where_qt_will_not_use_xcb(environ, platform):
    assert missing_xcb(environ=environ, load=_without(XCB_LIBRARIES), platform=platform) == []


def test_xcb_asked_for_explicitly_is_checked_even_in_a_wayland_session():
    environ = {
        "DISPLAY": ":0",
        "QT_QPA_PLATFORM": "xcb",
        "XDG_SESSION_TYPE": "wayland",
        "WAYLAND_DISPLAY": "wayland-0",
    }
    assert missing_xcb(environ=environ, load=_without(ABSENT), platform="linux") != []


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="glibc's loader")
def test_the_real_lookups_find_a_library_by_its_soname():
    assert loadable("libc.so.6")
    assert not loadable("libmcc-no-such-library.so.7")
    assert system_library("libc.so.6").is_file()  # where the packaging spec collects from
    assert system_library("libmcc-no-such-library.so.7") is None


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="X11 on Linux")
def test_the_app_prints_the_command_and_exits_2_before_qt_starts(monkeypatch, capsys):
    from app.main import main

    monkeypatch.setattr(platform_check, "loadable", lambda soname: soname not in ABSENT)
    for name in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    assert main(["--demo"]) == 2
    err = capsys.readouterr().err
    assert "sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in err
    assert "libxcb-icccm.so.4" in err
