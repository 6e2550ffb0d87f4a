"""`python -m netdesigner ...`: the same as the `netdesigner` command."""
import sys

from netdesigner.designer.cli import main

if __name__ == "__main__":
    sys.exit(main())
