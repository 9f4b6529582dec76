"""Synthetic corpora for benchmarks only: real entries plus plausible variations of them.

``qa corpus synth --n N --out DIR`` copies the bundled corpus (so the gold set still has its
right answers) and adds ``N`` minus its size synthetic entries. Each synthetic entry takes a
real entry as its model: its category, policies and answer (reused verbatim, so a synthetic
corpus costs no answer embeddings), and phrasings recombined from the real ones — a content
word swapped for another word of the same category, a qualifier people add (户籍, district,
who is asking). They read like questions residents ask but are not checked facts: every id
starts with ``synth-``, every entry is tagged ``合成数据``, and the folder carries a README
saying so. Never serve or publish a synthetic corpus.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import shutil
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from qa.corpus import MIN_ALTERNATES, Entry, load_corpus
from qa.errors import QAError
from qa.text import normalise

SYNTH_TAG = "合成数据"
PER_FILE = 100_000

# Qualifiers residents put before a question: who is asking, where, when.
PREFIXES = (
    "我是外地户籍，", "外地户口的话，", "本地户籍", "退休人员", "灵活就业人员", "刚毕业的大学生",
    "个体工商户", "夫妻双方", "孩子", "家里老人", "残疾人", "农村户口的", "在外地工作的", "新市民",
    "第一次办理，", "线上", "周末", "急问：", "请问一下，", "想咨询下，", "市南区", "市北区", "李沧区",
    "崂山区", "黄岛区", "城阳区", "即墨区", "胶州", "平度", "莱西", "单位", "小微企业", "外籍人员",
    "港澳台居民", "军人家属", "低保户", "失业了", "刚来青岛，", "今年", "去年",
)
SUFFIXES = ("", "", "", "？", "吗", "呢", "，在哪办", "，要多久", "，需要什么材料", "，能网上办吗", "，谢谢")


def _key(text: str) -> str:
    """What the corpus check compares: two entries must not share a phrasing under this key."""
    return normalise(text).rstrip("？?。.!！ ")


def _content_words(text: str) -> list[str]:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return [w for w in jieba.lcut(text) if len(w) >= 2 and all("\u4e00" <= ch <= "\u9fff" for ch in w)]


class Recombiner:
    """Variations of real phrasings: one content word swapped within its category, a qualifier added."""

    def __init__(self, entries: list[Entry], seed: int) -> None:
        self.rng = random.Random(seed)
        self.words: dict[str, list[str]] = {}
        self.split: dict[str, list[str]] = {}
        for entry in entries:
            vocab = self.words.setdefault(entry.category, [])
            for phrasing in entry.phrasings:
                words = _content_words(phrasing)
                self.split[phrasing] = words
                vocab.extend(words)
        self.words = {c: sorted(set(ws)) for c, ws in self.words.items()}

    def vary(self, phrasing: str, category: str) -> str:
        rng = self.rng
        text = phrasing.rstrip("？?。！!")
        words = self.split.get(phrasing) or []
        vocab = self.words.get(category) or []
        if words and vocab and rng.random() < 0.8:
            old = rng.choice(words)
            text = text.replace(old, rng.choice(vocab), 1)
        if rng.random() < 0.7:
            text = rng.choice(PREFIXES) + text
        suffix = rng.choice(SUFFIXES)
        return text + ("" if suffix in ("吗", "呢") and text.endswith(("吗", "呢")) else suffix)


def synthetic_entries(real: list[Entry], count: int, seed: int = 7) -> Iterator[Entry]:
    """``count`` synthetic entries modelled on ``real`` ones, every phrasing distinct from all others."""
    if not real:
        raise QAError("no published entries to model synthetic ones on")
    maker = Recombiner(real, seed)
    seen = {_key(p) for e in real for p in e.phrasings}
    order = list(range(len(real)))
    maker.rng.shuffle(order)
    for number in range(count):
        model = real[order[number % len(order)]]
        phrasings: list[str] = []
        for turn in range(200):
            source = model.phrasings[turn % len(model.phrasings)]
            text = maker.vary(source, model.category)
            key = _key(text)
            if key not in seen:
                seen.add(key)
                phrasings.append(text)
                if len(phrasings) == 1 + MIN_ALTERNATES:
                    break
        if len(phrasings) < 1 + MIN_ALTERNATES:
            raise QAError(f"could not vary {model.id} into new phrasings; the corpus is too small for {count} "
                          "synthetic entries")
        yield Entry(
            id=f"synth-{number + 1:07d}", category=model.category, question=phrasings[0],
            alternates=phrasings[1:], answer=model.answer, policy_ids=list(model.policy_ids),
            department=model.department, district=model.district, audience=list(model.audience),
            tags=[SYNTH_TAG], updated=model.updated, status="published",
        )


README = """# 合成语料 — synthetic corpus, for benchmarks only

Made by `qa corpus synth --n {n}` from {source}: its {real} real entries plus {synthetic}
synthetic ones (ids `synth-…`, tag `合成数据`). Synthetic entries reuse a real entry's answer and
policies under recombined phrasings; they are not checked facts. Never serve or publish them.
"""


def write_synthetic_corpus(source: Path, out: Path, n: int, seed: int = 7) -> dict[str, int]:
    """A corpus folder of ``n`` published entries: the real ones of ``source`` plus synthetic ones."""
    corpus = load_corpus(source)
    real = corpus.published
    if n < len(real):
        raise QAError(f"--n {n} is smaller than the {len(real)} real entries the synthetic corpus keeps; "
                      f"use --n {len(real)} or more")
    if out.resolve() == source.resolve() or (out.exists() and any(out.iterdir())):
        raise QAError(f"{out} exists and is not empty: choose a new folder (a synthetic corpus never overwrites one)")
    out.mkdir(parents=True, exist_ok=True)
    for name in ("categories.jsonl", "policies.jsonl", "packs.jsonl", "cases.jsonl", "distinct_pairs.txt"):
        if (source / name).exists():
            shutil.copy2(source / name, out / name)
    if (source / "dict").is_dir():
        shutil.copytree(source / "dict", out / "dict")
    shutil.copytree(source / "entries", out / "entries")
    synthetic = n - len(real)
    entries = synthetic_entries(real, synthetic, seed)
    for start in range(0, synthetic, PER_FILE):
        with (out / "entries" / f"synth-{start // PER_FILE:03d}.jsonl").open("w", encoding="utf-8") as handle:
            for entry in itertools.islice(entries, PER_FILE):
                handle.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
    (out / "README.md").write_text(README.format(n=n, source=source, real=len(real), synthetic=synthetic),
                                   encoding="utf-8")
    return {"entries": n, "real": len(real), "synthetic": synthetic}
