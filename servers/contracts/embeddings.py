"""Static word embeddings (wordllama, shipped inside its wheel, no download): the parser
links words to schema names by meaning with them, the gateway compares a new question
with accepted ones. The model loads once per process, lazily — callers on an event loop
load it in a thread (`await asyncio.to_thread(model)`) so the loop never stalls on it."""

from __future__ import annotations

import functools
from pathlib import Path


@functools.lru_cache(maxsize=1)
def model():  # noqa: ANN201 — wordllama's class, imported lazily
    import wordllama
    from wordllama import WordLlama

    return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
