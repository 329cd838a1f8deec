"""Entry script that PyInstaller freezes: start the desktop app."""

import sys

from app.main import main

if __name__ == "__main__":
    sys.exit(main())
