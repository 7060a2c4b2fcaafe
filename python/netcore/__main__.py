"""``python -m netcore``: the same command line as the ``netcore`` program."""

import sys

from . import _netcore


def main() -> int:
    return _netcore.cli_main(["netcore", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
