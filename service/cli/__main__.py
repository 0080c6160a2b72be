"""``python -m service.cli <command>``: the same command line as the ``orghistory`` script."""

from . import main

if __name__ == "__main__":
    main()
