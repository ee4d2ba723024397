"""``python -m wizardarena``: the ``wizardarena`` command."""

from wizardarena.cli import main

raise SystemExit(main())
