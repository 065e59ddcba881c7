"""The ``nines`` command line: a thin layer over the library."""
