"""`python -m steadygan` (and `torchrun -m steadygan`): the steadygan command."""

import sys

from .cli import main

sys.exit(main())
