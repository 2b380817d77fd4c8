"""``python -m convo.cli`` runs the ``convo`` command."""

from convo.cli import main

main()
