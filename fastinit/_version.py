"""fastinit's version, in a module of its own so that any layer can read it without importing
the package's top (which imports the layers).

May import: nothing outside the standard library.
"""
__version__ = "0.2.0.dev0"
