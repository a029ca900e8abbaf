"""`python -m pit` runs the command line."""

from pit.cli import main

main()
