"""The standalone executable's entry point (PyInstaller runs this file as __main__)."""

from ops.cli import main

raise SystemExit(main())
