"""The editors' loop: export → edit in a spreadsheet → import → incremental rebuild → reload → eval."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from qa.api.app import create_app
from qa.cli import main
from qa.config import Settings
from qa.corpus import load_corpus
from qa.corpus_diff import diff_corpora
from qa.corpus_import import ImportInvalid, export_corpus, import_corpus
from qa.index import Manifest, build_index, current_build, load_index
from qa.service import Service


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache for the tests that build the same small corpus (not the cache's own test)."""
    return tmp_path_factory.mktemp("cache")


def _corpus_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_export_edit_import_round_trips_through_a_real_spreadsheet(small_corpus: Path, tmp_path: Path) -> None:
    (small_corpus / "review").mkdir()
    (small_corpus / "review" / "gjj.md").write_text("# 核对记录\n", encoding="utf-8")  # editors' own files
    sheet = tmp_path / "corpus.xlsx"
    export_corpus(load_corpus(small_corpus), sheet)
    untouched = tmp_path / "untouched"
    shutil.copytree(small_corpus, untouched)
    import_corpus(sheet, untouched)
    assert _corpus_files(untouched) == _corpus_files(small_corpus)  # byte for byte, review notes kept
    book = load_workbook(sheet)
    assert {"问答", "分类", "政策"} <= set(book.sheetnames)
    rows = book["问答"]
    header = [c.value for c in rows[1]]
    assert header[:5] == ["编号", "分类", "问题", "相似问法", "答案"]
    # An editor changes one answer and adds an alternate, in the spreadsheet.
    edited_id = rows.cell(row=2, column=1).value
    answer_col, alt_col = header.index("答案") + 1, header.index("相似问法") + 1
    rows.cell(row=2, column=answer_col).value += "办理前请先电话确认所需材料。"
    rows.cell(row=2, column=alt_col).value += "\n这个怎么办理比较快"
    book.save(sheet)

    target = tmp_path / "imported"
    shutil.copytree(small_corpus, target)
    report = import_corpus(sheet, target)
    assert report.entries == len(load_corpus(small_corpus).entries) and report.generated_ids == 0
    diff = diff_corpora(load_corpus(small_corpus), load_corpus(target))
    assert diff.added == [] and diff.removed == [] and diff.changed == {edited_id: ["alternates", "answer"]}
    edited = next(e for e in load_corpus(target).entries if e.id == edited_id)
    assert edited.answer.endswith("办理前请先电话确认所需材料。") and edited.alternates[-1] == "这个怎么办理比较快"

    for suffix in (".csv", ".jsonl"):  # the other formats round-trip the entries too
        flat = tmp_path / f"corpus{suffix}"
        export_corpus(load_corpus(target), flat)
        again = tmp_path / f"again{suffix}"
        shutil.copytree(target, again)
        import_corpus(flat, again)
        assert diff_corpora(load_corpus(target), load_corpus(again)).empty


def test_a_bad_import_names_sheet_row_and_column_and_changes_nothing(small_corpus: Path, tmp_path: Path) -> None:
    before = _corpus_files(small_corpus)
    bad = tmp_path / "bad.csv"
    good_answer = ("按照可回收物、有害垃圾、厨余垃圾和其他垃圾四类分类投放，"
                   "具体投放时间和地点以所在小区和街道的公告为准，也可以咨询物业或社区居委会。")
    bad.write_text(
        "编号,分类,问题,相似问法,答案,政策编号\n"
        f"gjj-0001,住房公积金,租房能提取公积金吗？,a|b|c,{good_answer},no-such-policy\n"
        ",住房公积金,,a|b|c,太短了,\n"
        f",火星事务,火星上怎么交社保？,x|y|z,{good_answer},min-gjj-rent-withdrawal-2015\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportInvalid) as info:
        import_corpus(bad, small_corpus)
    joined = "\n".join(info.value.problems)
    assert "sheet bad.csv, row 2, column 政策编号: unknown policy id 'no-such-policy'" in joined
    assert "sheet bad.csv, row 3, column 问题: missing or empty" in joined
    assert "sheet bad.csv, row 3, column 答案: 3 characters" in joined
    assert _corpus_files(small_corpus) == before  # nothing half-written
    assert not [p for p in small_corpus.parent.iterdir() if p.name.startswith(".corpus")]  # no staging left

    twice = tmp_path / "twice.csv"
    policy = "min-gjj-rent-withdrawal-2015"
    twice.write_text("编号,分类,问题,相似问法,答案,政策编号\n" + "".join(
        f"x-{i},住房公积金,垃圾分类怎么分？,a{i}|b{i}|c{i},{good_answer},{policy}\n" for i in (1, 2)), encoding="utf-8")
    with pytest.raises(ImportInvalid, match=r"sheet twice.csv, row 3, column 问题: .* is also a phrasing of x-1"):
        import_corpus(twice, small_corpus)

    unknown = tmp_path / "unknown.csv"
    unknown.write_text("问题,颜色\n怎么办,红\n", encoding="utf-8")
    with pytest.raises(ImportInvalid, match="column 颜色: unknown column"):
        import_corpus(unknown, small_corpus)


def test_an_imported_corpus_works_end_to_end(tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A city's own spreadsheet, with its own categories and no policy registry yet:
    import → qa build → serve → qa eval on its own gold set."""
    answer = ("{}办理渠道：社区居委会或街道便民服务中心窗口，也可以在政务服务网上申请。"
              "所需材料和办理时限以所在街道公布的办事指南为准，不清楚的可以拨打12345政务服务便民热线咨询。")
    rows = [
        ("社区服务", "小区加装电梯怎么申请？", "老楼加电梯|加装电梯流程|旧楼装电梯找谁",
         "加装电梯由业主协商一致后提出申请。"),
        ("社区服务", "居住证明在哪里开？", "开居住证明|居住证明怎么办|社区开证明",
         "居住证明由社区根据实际居住情况出具。"),
        ("社区服务", "小区垃圾分类怎么投放？", "垃圾怎么分类|厨余垃圾怎么扔|分类投放时间",
         "垃圾按可回收物、有害垃圾、厨余垃圾和其他垃圾分类投放。"),
        ("便民服务", "老年人办理公交卡需要什么？", "老人乘车卡怎么办|老年公交卡|敬老卡办理",
         "老年人乘车优待卡凭身份证件办理。"),
        ("便民服务", "残疾人证怎么办理？", "办残疾证|残疾证申请|残疾评定",
         "残疾人证向户籍所在地残联申请并经评定后核发。"),
    ]
    sheet = tmp_path / "city.csv"
    sheet.write_text("分类,问题,相似问法,答案,部门\n" + "".join(
        f"{c},{q},{a},{answer.format(lead)},街道办\n" for c, q, a, lead in rows), encoding="utf-8")
    corpus, index = tmp_path / "city", tmp_path / "city-index"
    report = import_corpus(sheet, corpus)
    assert report.entries == 5 and report.categories == 2 and report.generated_ids == 5
    assert all("no source policy" in w for w in report.warnings) and len(report.warnings) == 5
    ids = sorted(e.id for e in load_corpus(corpus).entries)
    import_corpus(sheet, corpus)  # the same rows get the same ids on a re-import
    assert sorted(e.id for e in load_corpus(corpus).entries) == ids

    monkeypatch.setenv("QA_MODELS_DIR", str(models_dir))
    assert main(["build", "--corpus", str(corpus), "--index", str(index)]) == 0
    settings = Settings(corpus_dir=corpus, index_dir=index, models_dir=models_dir,
                        database_url=f"sqlite:///{tmp_path / 'qa.sqlite3'}")
    with TestClient(create_app(settings)) as client:
        body = client.post("/v1/ask", json={"question": "老楼想装电梯找谁申请"}).json()
        assert body["answered"] and body["answer"]["question"] == "小区加装电梯怎么申请？"
        assert body["answer"]["sources"] == []
        assert {c["name"] for c in client.get("/v1/categories").json()} == {"社区服务", "便民服务"}

    by_question = {e.question: e.id for e in load_corpus(corpus).entries}
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in [
        {"query": "残疾证去哪申请", "ids": [by_question["残疾人证怎么办理？"]], "style": "colloquial"},
        {"query": "社区能给开居住证明吗", "ids": [by_question["居住证明在哪里开？"]], "style": "colloquial"},
        {"query": "今天天气怎么样", "ids": [], "style": "chitchat"},
    ]), encoding="utf-8")
    capsys.readouterr()
    code = main(["eval", "--index", str(index), "--set", str(gold), "--reports", str(tmp_path / "reports")])
    out = capsys.readouterr().out
    assert code == 0 and "3 queries (2 in scope, 1 out of scope)" in out and "hit@1" in out


def test_a_rebuild_after_a_small_edit_embeds_only_what_changed(small_corpus: Path, tmp_path: Path, encoder) -> None:
    index = tmp_path / "index"
    cold = build_index(small_corpus, index, encoder, "usem3")
    cold_manifest = Manifest.read(cold)
    assert cold_manifest.embeddings_reused == 0 and cold_manifest.embedded == cold_manifest.vectors + \
        cold_manifest.entries

    path = small_corpus / "entries" / "gjj.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    edited = [json.loads(line) for line in lines[:2]]
    edited[0]["answer"] = "（已更新）" + edited[0]["answer"]  # at its start: the answer's vector changes too
    edited[1]["alternates"].append("公积金这个事怎么弄")
    path.write_text("\n".join([json.dumps(e, ensure_ascii=False) for e in edited] + lines[2:]) + "\n",
                    encoding="utf-8")
    warm = build_index(small_corpus, index, encoder, "usem3")
    manifest = Manifest.read(warm)
    assert manifest.embedded == 2  # one answer, one alternate
    assert manifest.embeddings_reused == manifest.vectors + manifest.entries - 2

    # The cached vectors are exactly what a cold build of the edited corpus computes.
    fresh = build_index(small_corpus, tmp_path / "fresh", encoder, "usem3", cache_dir=tmp_path / "no-cache")
    a, b = load_index(warm, "usem3"), load_index(fresh, "usem3")
    assert np.allclose(a.dense.reconstruct_n(0, a.dense.ntotal), b.dense.reconstruct_n(0, b.dense.ntotal), atol=1e-6)
    assert np.allclose(a.answer_vectors, b.answer_vectors, atol=1e-6)


def _two_builds(small_corpus: Path, tmp_path: Path, encoder,  # type: ignore[no-untyped-def]
                cache: Path) -> tuple[Settings, Path, Path]:
    index = tmp_path / "index"
    first = build_index(small_corpus, index, encoder, "usem3", cache_dir=cache)
    path = small_corpus / "entries" / "gjj.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    entry = json.loads(lines[0])
    entry["question"] = "租房的时候，住房公积金能不能取出来用？"
    path.write_text("\n".join([json.dumps(entry, ensure_ascii=False)] + lines[1:]) + "\n", encoding="utf-8")
    second = build_index(small_corpus, index, encoder, "usem3", cache_dir=cache)
    (index / "CURRENT").write_text(first.name + "\n", encoding="utf-8")
    settings = Settings(corpus_dir=tmp_path / "no-corpus", index_dir=index, model="usem3",
                        database_url=f"sqlite:///{tmp_path / 'qa.sqlite3'}", admin_token="s3cret-token", ui=False,
                        rate_limit_per_minute=0)  # the reload test drives many requests from one client
    return settings, first, second


def test_reload_swaps_the_index_with_no_failed_request(small_corpus: Path, tmp_path: Path, encoder,
                                                       shared_cache: Path) -> None:
    settings, first, second = _two_builds(small_corpus, tmp_path, encoder, shared_cache)
    service = Service(settings)
    service.load()
    assert service.loaded_build() == first
    with TestClient(create_app(settings, service)) as client:
        assert client.post("/v1/admin/reload").status_code == 401
        assert client.post("/v1/admin/reload", headers={"Authorization": "Bearer wrong"}).status_code == 401
        auth = {"Authorization": "Bearer s3cret-token"}
        assert client.post("/v1/admin/reload", headers=auth).json()["reloaded"] is False  # nothing new

        failures: list[object] = []
        stop = threading.Event()

        def ask() -> None:
            while not stop.is_set():
                r = client.get("/v1/search", params={"q": "租房提取公积金"})
                if r.status_code != 200 or not r.json()["hits"]:
                    failures.append((r.status_code, r.text[:200]))

        workers = [threading.Thread(target=ask) for _ in range(4)]
        for w in workers:
            w.start()
        for build in (second, first, second):  # swap back and forth under load
            (settings.index_dir / "CURRENT").write_text(build.name + "\n", encoding="utf-8")
            response = client.post("/v1/admin/reload", headers=auth)
            assert response.status_code == 200 and response.json()["build"] == build.name
        stop.set()
        for w in workers:
            w.join()
        assert failures == []
        assert client.get("/v1/qa/gjj-0001").json()["question"] == "租房的时候，住房公积金能不能取出来用？"

        # A broken new build is refused with the reason; the old one keeps serving.
        broken = settings.index_dir / "builds" / "broken"
        shutil.copytree(first, broken)
        (broken / "dense.faiss").write_bytes(b"not a faiss index")
        (settings.index_dir / "CURRENT").write_text("broken\n", encoding="utf-8")
        refused = client.post("/v1/admin/reload", headers=auth)
        assert refused.status_code == 409 and "damaged" in refused.json()["message"]
        assert service.loaded_build() == second
        assert client.get("/readyz").status_code == 200
        assert client.get("/v1/search", params={"q": "租房提取公积金"}).json()["hits"]


def test_admin_endpoints_do_not_exist_without_a_token(settings: Settings, service: Service) -> None:
    open_settings = settings.model_copy(update={"admin_token": "", "ui": False})
    with TestClient(create_app(open_settings, service)) as client:
        response = client.post("/v1/admin/reload", headers={"Authorization": "Bearer "})
        assert response.status_code == 404


def test_watch_swaps_in_each_new_build(small_corpus: Path, tmp_path: Path, encoder, shared_cache: Path) -> None:
    settings, first, second = _two_builds(small_corpus, tmp_path, encoder, shared_cache)
    service = Service(settings)
    service.load()
    watcher = service.watch(0.1)
    try:
        (settings.index_dir / "CURRENT").write_text(second.name + "\n", encoding="utf-8")
        for _ in range(200):
            if service.loaded_build() == second:
                break
            threading.Event().wait(0.05)
        assert service.loaded_build() == second
        assert current_build(settings.index_dir) == second
    finally:
        watcher.stop.set()  # type: ignore[attr-defined]


def test_entries_whose_policies_all_lapsed_are_flagged_and_not_answered(small_corpus: Path, tmp_path: Path,
                                                                        encoder, shared_cache: Path) -> None:
    corpus = load_corpus(small_corpus)
    entry = next(e for e in corpus.published if e.category == "住房公积金" and len(e.policy_ids) == 1)
    policies = [json.loads(line) for line in (small_corpus / "policies.jsonl").read_text("utf-8").splitlines()]
    for p in policies:
        if p["id"] == entry.policy_ids[0]:
            p["status"] = "已废止"
            p["expires"] = "2020-01-01"
    (small_corpus / "policies.jsonl").write_text(
        "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in policies), encoding="utf-8")
    lapsed = load_corpus(small_corpus)
    assert any(w.startswith(f"{entry.id}: policy_ids: every source policy is 已废止") for w in lapsed.warnings)
    built = load_index(build_index(small_corpus, tmp_path / "index", encoder, "usem3", cache_dir=shared_cache),
                       "usem3")
    cited_only_by_that = {e.id for e in lapsed.published if e.policy_ids == entry.policy_ids}
    assert entry.id not in built.by_id and not cited_only_by_that & set(built.by_id)
    assert len(built.entries) == len(lapsed.published) - len(cited_only_by_that)
