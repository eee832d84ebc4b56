"""`python -m scsmd` runs the command line."""
from scsmd.cli import main

main()
