"""The parser's language side: a question → an intermediate form (QueryPlan).

    prepare(schema, samples, glossary)  once per schema and glossary version
    understand(question, prepared, now=…) → Understanding, or raises Unresolved

Modules, in the order a question meets them:
- words (tokens, identifier words, lemmas), lexicon (English cue words), numbers, dates;
- prepared (the per-schema cache), linking (schema names), values (stored values),
  synonyms (embeddings, for words nothing else links), glossary (terms, matched first);
- reading (every fact and cue by position, the table asked about), describe (questions
  about the schema), roles (what each mention does), conditions (values, numbers,
  negation, dates), ranking (superlatives, top-k), understand (the plan);
- followup (a follow-up question read as a change to the previous plan), revise (the
  change applied);
- business phrasing: periods (time grains, event dates), money (amounts, quantities,
  ranking by them), verbs ("never sold", "unpaid"), measures (applies them to the plan),
  fanout (joins that would repeat a metric's rows).
"""

from servers.parser.language.prepared import Prepared, prepare
from servers.parser.language.understand import understand

__all__ = ["Prepared", "prepare", "understand"]
