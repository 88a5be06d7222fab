import sys

from chatchat.cli import main

sys.exit(main())
