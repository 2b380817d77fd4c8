"""``python -m convo`` runs the ``convo`` command."""

from convo.cli import main

main()
