"""The parser's language side: a question → an intermediate form (QueryPlan).

    prepare(schema, samples, glossary)  once per schema and glossary version
    understand(question, prepared, now=…) → Understanding, or raises Unresolved

Modules: words (tokens, identifiers, lemmas), lexicon (English cue words), numbers,
dates, linking (schema names), values (stored values), synonyms (embeddings), glossary
(terms), prepared (the per-schema cache), understand (cues → plan).
"""

from servers.parser.language.prepared import Prepared, prepare
from servers.parser.language.understand import understand

__all__ = ["Prepared", "prepare", "understand"]
