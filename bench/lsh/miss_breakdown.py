#!/usr/bin/env python3
"""Why held-out queries miss the semantic index (docs/semantic-cache.md, "Where the rest of the gap is").

  cut -f1 WORK/held.tsv | kvik lsh lookup --index WORK/index.kvlsh > WORK/held-lookup.tsv
  bench/lsh/miss_breakdown.py WORK    (WORK from bench/lsh/run.sh)

Classifies every held-out query below the vote threshold, weighted by its request count: its true
intent never occurs in the training log (cold start); it has a token the training log never had
(tokenization approximates kvik's Normalize: split on non-alphanumerics, plural stemming); or all its
tokens are known and the vote still fell short.
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


def main(work):
    truth = {}
    for line in open(f"{work}/truth.tsv"):
        query, intent = line.rstrip("\n").rsplit("\t", 1)
        truth[query] = int(intent)
    vocabulary, train_intents = set(), set()
    for line in open(f"{work}/train.tsv"):
        query = line.rsplit("\t", 1)[0]
        train_intents.add(truth[query])
        vocabulary.update(tokens(query))
    counts = {}
    for line in open(f"{work}/held.tsv"):
        query, count = line.rstrip("\n").rsplit("\t", 1)
        counts[query] = int(count)
    requests, missed, kinds = sum(counts.values()), 0, {}
    for line in open(f"{work}/held-lookup.tsv"):
        query, canonical, _ = line.rstrip("\n").split("\t")
        if canonical != "-":
            continue
        missed += counts[query]
        if truth[query] not in train_intents:
            kind = "intent absent from training"
        elif any(t not in vocabulary for t in tokens(query)):
            kind = "a token unseen in training"
        else:
            kind = "all tokens known, too few votes"
        kinds[kind] = kinds.get(kind, 0) + counts[query]
    print(f"held-out requests {requests}, below the vote threshold {missed} ({100 * missed / requests:.2f}%)")
    for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"  {kind}: {n} ({100 * n / missed:.1f}%)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
