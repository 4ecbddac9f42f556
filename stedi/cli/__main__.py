import sys

from stedi.cli import main

sys.exit(main())
