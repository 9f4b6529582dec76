"""How people really type: regional scripts, numbers, typos, pinyin, follow-ups and ambiguous questions.

Every query here is one a resident could type (most are from the gold set); every expectation is
what they would see: the entry answered, the correction shown, the clarifying options offered.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from qa.search import Searcher
from qa.store import Store
from qa.text import (
    HONG_KONG,
    SIMPLIFIED,
    TAIWAN,
    TRADITIONAL,
    Tokenizer,
    Vocabulary,
    arabic_numerals,
    in_script,
    normalise,
    script_of,
)
from qa.understand import understand
from tests.conftest import BUNDLED_CORPUS


def _tokenizer() -> Tokenizer:
    return Tokenizer(Vocabulary.load(BUNDLED_CORPUS / "dict"))


def test_taiwan_and_hong_kong_forms_meet_the_simplified_corpus() -> None:
    tokenizer = _tokenizer()
    # Character variants: Hong Kong 衞/綫/裏, Taiwan 著/裡.
    assert normalise("衞生局熱綫") == "卫生局热线"
    assert normalise("裡面寫著") == "里面写着"
    # Words: Taiwan 身分證, 登入, 帳號 and Hong Kong 租樓 reach the corpus's own terms.
    assert "居民身份证" in tokenizer.words(normalise("身分證遺失"))
    assert {"登录", "账号"} <= set(tokenizer.words(normalise("帳號登入不了")))
    assert "租房" in tokenizer.words(normalise("租樓提取公積金"))


def test_replies_come_back_in_the_regional_script_asked_in() -> None:
    assert script_of("公积金怎么提取") == SIMPLIFIED
    assert script_of("公積金怎麼提取") == TRADITIONAL
    assert script_of("我的帳號登入不了裡面的資料") == TAIWAN
    assert script_of("網上點樣申請？衞生局熱綫幾多號") == HONG_KONG
    assert in_script("里面", TAIWAN) == "裡面"
    assert in_script("卫生局", HONG_KONG) == "衞生局"
    assert in_script("公积金", SIMPLIFIED) == "公积金"


def test_numbers_in_chinese_or_digits_are_the_same_words() -> None:
    tokenizer = _tokenizer()
    assert arabic_numerals("缴满十五年，六十周岁，两万元，一百零八元") == "缴满15年，60周岁，2万元，108元"
    assert arabic_numerals("一次性补贴，十分方便") == "一次性补贴，十分方便"  # no unit: characters stay
    assert tokenizer.tokens(normalise("交满十五年")) == tokenizer.tokens(normalise("交满15年"))
    assert tokenizer.tokens(normalise("交满１５年")) == tokenizer.tokens(normalise("交满15年"))  # full width


def test_sound_alike_typos_are_corrected_against_the_corpus_words(searcher: Searcher) -> None:
    speller, tokenizer = searcher.index.speller, searcher.index.tokenizer
    assert speller.correct(normalise("医保异地报消"), tokenizer) == "医保异地报销"
    assert speller.correct(normalise("社报断交了怎么办"), tokenizer) == "社保断交了怎么办"
    assert speller.correct(normalise("公积金带款利律现在多少"), tokenizer) == "公积金贷款利率现在多少"
    # Correctly typed questions are left alone: no word is cut, no negation changed.
    right_as_typed = ("个人怎么交社保", "物业不作为，可以不交物业费吗", "自己出的钱能用公积金报销吗",
                      "我想问下单位的社保怎么交")
    for right in right_as_typed:
        assert speller.correct(normalise(right), tokenizer) is None, right


def test_a_typo_finds_the_entry_and_the_correction_is_shown(searcher: Searcher) -> None:
    taken = understand(searcher, "租房体取公基金要带哪些资料")
    assert taken.corrected == "租房提取公积金要带哪些资料"
    assert taken.result.answered and taken.result.hits[0].id == "gjj-0003"
    assert taken.result.query == "租房体取公基金要带哪些资料"  # the resident's words are what is recorded


def test_pinyin_finds_the_same_entry_as_the_chinese(searcher: Searcher) -> None:
    chinese = understand(searcher, "加装电梯需要多少业主同意").result.hits[0].id
    for typed in ("jiazhuang dianti xuyao duoshao yezhu tongyi", "jia1 zhuang1 dian4 ti1 xu1 yao4 duo1 shao3 ye4 zhu3"):
        taken = understand(searcher, typed)
        assert taken.result.hits[0].id == chinese, typed
        assert taken.corrected is not None and "加装电梯" in taken.corrected
    assert understand(searcher, "yibao yidi jiuyi").corrected == "医保异地就医"


def test_a_follow_up_is_read_with_the_previous_question(searcher: Searcher) -> None:
    contrast = understand(searcher, "买新房呢？", previous="租房提公积金要带哪些材料")
    assert contrast.followup_of == "租房提公积金要带哪些材料"
    assert contrast.result.hits[0].id == "gjj-0006"  # 买新房提取住房公积金需要哪些材料
    noun = understand(searcher, "高企呢", previous="专精特新有效期几年")
    assert noun.result.hits[0].id == "huiqi-0010"  # 高新技术企业资格有效期几年
    alone = understand(searcher, "高企呢")
    assert alone.followup_of is None and alone.result.hits[0].id != "huiqi-0010"


def test_a_new_question_in_a_conversation_is_not_glued_to_the_last(searcher: Searcher) -> None:
    taken = understand(searcher, "社保卡丢了咋补办", previous="公积金租房怎么提取")
    assert taken.followup_of is None
    assert taken.result.hits[0].id == "shebao-0061"
    # Short, but it names its own topic: read alone, not as 小规模纳税人… 个税怎么交.
    assert understand(searcher, "个税怎么交", previous="小规模纳税人月销售额10万以下免增值税吗").followup_of is None
    # No topic of its own: read with the last question.
    detail = understand(searcher, "要带啥材料", previous="外地人在青岛怎么办居住证")
    assert detail.followup_of is not None and detail.result.hits[0].id in {"huji-0001", "huji-0002"}


def test_an_ambiguous_question_gets_a_clarifying_question(searcher: Searcher) -> None:
    taken = understand(searcher, "上学要交学费吗")
    assert taken.clarify is not None
    offered = {h.id for h in taken.clarify.options}
    assert {"jiaoyu-0006", "jiaoyu-0061"} <= offered  # 小学初中 / 普通高中
    assert understand(searcher, "养老金能领多少").clarify is not None  # 职工 / 城乡居民
    # A resident who said which one is answered, not asked.
    for specific in ("租房提取公积金需要准备哪些材料", "城乡居民养老保险能领多少", "上公办普通高中要交学费吗"):
        taken = understand(searcher, specific)
        assert taken.clarify is None and taken.result.answered, specific


def test_the_editors_case_groups_ask_which_case_unless_the_resident_named_one(searcher: Searcher) -> None:
    # corpus/cases.jsonl: 公积金转移 is 转出 (gjj-0020) or 转入 (gjj-0021); 解除抵押 depends on the loan.
    taken = understand(searcher, "公积金转移咋办")
    assert taken.clarify is not None and {"gjj-0020", "gjj-0021"} <= {h.id for h in taken.clarify.options}
    for named, entry in (("公积金怎么转到外地", "gjj-0020"), ("从外地调来青岛工作，公积金怎么转进来", "gjj-0021"),
                         ("车贷还清了怎么解除抵押", "jiaotong-0076"), ("灵活就业医保一年交多少钱", "yibao-0083")):
        taken = understand(searcher, named)
        assert taken.clarify is None and taken.result.answered and taken.result.hits[0].id == entry, named
    everywhere = understand(searcher, "贷款还清了怎么解除抵押").clarify
    assert everywhere is not None and "jiaotong-0076" in {h.id for h in everywhere.options}
    # An enterprise's site limited to housing topics is not offered the car loan.
    housing = understand(searcher, "贷款还清了怎么解除抵押", categories=["住房公积金", "住房保障与不动产"]).clarify
    assert housing is not None and {h.id for h in housing.options} == {"gjj-0061", "zhufang-0100"}


def test_ask_offers_options_and_answers_the_one_picked(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": "上学要交学费吗"}).json()
    assert body["answered"] is False and body["answer"] is None
    assert body["clarify"]["question"] == body["message"]
    options = body["clarify"]["options"]
    assert len(options) >= 2 and all(o["id"] and o["question"] for o in options)
    picked = client.post("/v1/ask", json={"question": options[1]["question"], "entry_id": options[1]["id"]}).json()
    assert picked["answered"] is True and picked["answer"]["id"] == options[1]["id"] and picked["clarify"] is None
    traditional = client.post("/v1/ask", json={"question": "上學要交學費嗎"}).json()
    assert traditional["clarify"]["question"] == "您想問的是下面哪一種情況？請點選："
    unknown = client.post("/v1/ask", json={"question": "上学要交学费吗", "entry_id": "nope-0001"})
    assert unknown.status_code == 404


def test_ask_shows_the_correction_it_used(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": "租房体取公基金要带哪些资料"}).json()
    assert body["understood"]["corrected"] == "租房提取公积金要带哪些资料"
    assert body["answer"]["id"] == "gjj-0003"
    plain = client.post("/v1/ask", json={"question": "租房提取公积金要带哪些材料"}).json()
    assert plain["understood"]["corrected"] is None


def test_ask_keeps_the_conversation_server_side(client: TestClient) -> None:
    first = client.post("/v1/ask", json={"question": "租房提公积金要带哪些材料", "session_id": "conv-1"}).json()
    assert first["answer"]["id"] == "gjj-0003"
    follow = client.post("/v1/ask", json={"question": "买新房呢？", "session_id": "conv-1"}).json()
    assert follow["understood"]["followup_of"] == "租房提公积金要带哪些材料"
    assert follow["answer"]["id"] == "gjj-0006"
    # Another conversation (or none) has no previous question to lean on.
    other = client.post("/v1/ask", json={"question": "买新房呢？", "session_id": "conv-2"}).json()
    assert other["understood"]["followup_of"] is None
    assert client.post("/v1/ask", json={"question": "买新房呢？"}).json()["understood"]["followup_of"] is None


def test_sessions_expire_and_are_bounded(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'qa.sqlite3'}")
    assert store.remember_question("a", "个人怎么交社保", ttl_seconds=60, max_sessions=3)
    assert store.last_question("a", ttl_seconds=60) == "个人怎么交社保"
    assert store.last_question("a", ttl_seconds=0) is None  # expired
    assert store.last_question("never-seen", ttl_seconds=60) is None
    for n in range(6):
        store.remember_question(f"s{n}", f"问题{n}", ttl_seconds=60, max_sessions=3)
    assert store.session_count() == 3
    assert store.last_question("s5", ttl_seconds=60) == "问题5"  # the newest are kept
    assert store.last_question("s0", ttl_seconds=60) is None
