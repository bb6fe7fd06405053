"""`python -m decp_pipeline` runs the `decp` command line."""

from decp_pipeline.cli import main

main()
