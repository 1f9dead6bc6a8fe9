"""``python -m telcoflow ...``: the ``telcoflow`` command."""

from telcoflow.cli import console

if __name__ == "__main__":
    console()
