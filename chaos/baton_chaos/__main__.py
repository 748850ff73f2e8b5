"""python3 -m baton_chaos: the same as chaos/run."""
import sys

from .cli import main

sys.exit(main())
