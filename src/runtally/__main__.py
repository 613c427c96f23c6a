"""``python -m runtally``: the same CLI as the ``runtally`` console script."""

from __future__ import annotations

from runtally.cli import main

if __name__ == "__main__":
    main()
