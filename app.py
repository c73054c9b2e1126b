"""Start the web app: `python app.py [--config rag.yaml] [--host H] [--port P]`.

Builds or updates the index first when it is missing or stale.
"""

import sys

from rag.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
