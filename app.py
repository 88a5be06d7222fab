"""Chatchat's entry point: `python app.py [--home DIR] [--host H] [--port N] [--share] [--auth user:password]
[--lite]` serves the web UI and the API at http://127.0.0.1:7860. Also the Hugging Face Space's app file."""

import sys

from chatchat.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
