import sys

from kavan.cli import main

sys.exit(main())
