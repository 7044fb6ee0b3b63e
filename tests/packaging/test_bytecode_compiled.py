"""`make install` compiles the bytecode of what `soma serve` imports, as pip and the images do: where
PYTHONDONTWRITEBYTECODE is set (as in the images, and on many CI machines) nothing is written at run time,
and without it every start compiled its imports anew (about 2 s of a start at a million memories)."""

from somafractalmemory.cli.bytecode import SERVE_IMPORTS, uncached


def test_the_modules_a_start_imports_have_their_bytecode_cached() -> None:
    assert uncached(SERVE_IMPORTS) == []
