"""`python -m autograder ...` runs the command line."""

from .cli import main

main(prog_name="autograder")
