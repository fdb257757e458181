"""``python -m kubert.cli``: the same command line as the ``kubert`` script."""

from kubert.cli import main

main()
