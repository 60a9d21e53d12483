"""`python -m digestbot`: the same as the `digestbot` command."""

from digestbot.cli import main

raise SystemExit(main())
