#!/usr/bin/env python3
"""Do any clusters mix two brands? (docs/semantic-cache.md, "Brand swaps").

  kvik lsh build --log train.tsv --lexicon lexicon.tsv --out index.kvlsh --members m.tsv \
      --corrections c.tsv
  bench/lsh/brand_check.py m.tsv lexicon.tsv [c.tsv]

Groups the log's queries by cluster; a query's brands are its tokens (after typo correction, when
the corrections file is given) that the lexicon lists as brands. Tokenization approximates kvik's
Normalize (split on non-alphanumerics, plural stemming).
"""
import re
import sys


def tokens(query):
    out = []
    for t in re.split(r"[^a-z0-9]+", query.lower()):
        if not t:
            continue
        if len(t) >= 4 and t.endswith("s") and not t.endswith(("ss", "us", "is")):
            t = t[:-1]
        out.append(t)
    return out


def main(members_path, lexicon_path, corrections_path=None):
    brands = {line.split("\t")[0] for line in open(lexicon_path)
              if line.rstrip("\n").endswith("\tbrand")}
    corrections = {}
    if corrections_path:
        corrections = dict(line.rstrip("\n").split("\t") for line in open(corrections_path))
    brand_sets = {}
    for line in open(members_path):
        query, cluster = line.rstrip("\n").rsplit("\t", 1)
        found = frozenset(corrections.get(t, t) for t in tokens(query)) & brands
        if found:
            brand_sets.setdefault(cluster, set()).add(found)
    mixed = sum(1 for sets in brand_sets.values() if len(sets) > 1)
    print(f"clusters with a brand: {len(brand_sets)}, clusters mixing two brand sets: {mixed}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
