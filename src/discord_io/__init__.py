"""Everything that speaks Discord. The only package that imports ``discord``."""
