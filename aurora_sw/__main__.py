"""``python -m aurora_sw`` runs the ``aurora-sw`` command."""

from aurora_sw.cli import main

main()
