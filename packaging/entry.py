"""Entry script that PyInstaller freezes: the desktop app, or `mcc-annotate mcc ...` for the CLI."""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["mcc"]:
        # The bundle carries the whole engine; this lets the same executable run `mcc` commands
        # (on Linux and macOS; a windowed .exe on Windows has no console to print to).
        from mcc_engine.cli import main as cli_main

        sys.exit(cli_main(sys.argv[2:]))
    from app.main import main

    sys.exit(main())
