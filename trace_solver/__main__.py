import sys

from trace_solver.cli import main

sys.exit(main())
