"""``python -m hnas`` is the same as the ``hnas`` console script."""

from hnas.cli import main

if __name__ == "__main__":
    main()
