"""``python -m designer [GRAPH]`` opens the designer."""
import sys

from designer.app import main

sys.exit(main())
