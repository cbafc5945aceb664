import sys

from hng.cli.main import main

sys.exit(main())
