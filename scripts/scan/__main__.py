"""`python -m scripts.scan` (what `make scan` runs): see the package's docstring."""

import sys

from .run import main

if __name__ == "__main__":
    sys.exit(main())
