"""``python -m notify_tui`` runs the ``notify-tui`` command."""

import sys

from notify_tui.cli import main

sys.exit(main())
