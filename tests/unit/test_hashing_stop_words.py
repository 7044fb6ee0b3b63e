"""The hashing embedder leaves stop words out of its features, unless a text has nothing else."""

import numpy as np
import pytest

from somafractalmemory.embedding.hashing import HashingEmbedder


def test_stop_words_add_no_feature() -> None:
    the_cat, cat, did_you_see_the_cat = HashingEmbedder(64).embed(["The cat", "cat", "Did you see the cat?"])
    assert np.array_equal(the_cat, cat)
    assert not np.array_equal(did_you_see_the_cat, cat)  # "see" is no stop word
    assert float(np.dot(did_you_see_the_cat, cat)) > 0


def test_a_text_of_stop_words_only_keeps_them() -> None:
    what_is_it, what = HashingEmbedder(64).embed(["what is it", "what"])
    assert float(np.linalg.norm(what_is_it)) == pytest.approx(1.0, abs=1e-6)
    assert not np.array_equal(what_is_it, what)
