import sys

from meetbox.cli import main

sys.exit(main())
