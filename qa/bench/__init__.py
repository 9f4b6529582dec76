"""``qa bench``: speed, scale and quality against peers, measured in one run on this machine.

- ``floor``: the unavoidable work for one query (encoder + one exact FAISS search),
- ``inprocess``: search latency over the gold queries, one at a time, per corpus size,
- ``builds``: cold and incremental build, index size, load and start-up time,
- ``http``: ``qa serve`` under wrk at several concurrencies, 1 and 2 workers,
- ``peers``: BM25-only, dense-only and txtai on the same corpus and gold set,
- ``report``: ``eval/bench/results.json`` and the Markdown table the README links.
"""
