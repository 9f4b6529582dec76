"""The chat, the widget and the policy pages in a real browser (Debian's Chromium via Playwright).

A real ``qa serve`` runs in a subprocess on a small real corpus (four categories of the bundled
one, plus one entry whose answer carries an HTML injection), and a second local port serves
an enterprise's page that embeds the widget from the first, so the widget runs cross-origin as
it does in production. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from qa.config import REPO_ROOT
from qa.errors import QAError
from qa.index import build_index
from qa.soak import free_port, start_server
from qa.store import Store
from qa.text import to_traditional

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"
BUNDLED = REPO_ROOT / "corpus"
XSS = "<img src=x onerror=alert(1)>"
XSS_QUESTION = "企业年报网页上显示的尖括号代码是什么意思？"

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four categories of the bundled corpus, their packs, and one entry with markup in its answer."""
    root = tmp_path_factory.mktemp("browser") / "corpus"
    (root / "entries").mkdir(parents=True)
    for name in ("categories.jsonl", "policies.jsonl"):
        shutil.copy(BUNDLED / name, root)
    shutil.copytree(BUNDLED / "dict", root / "dict")
    ids: set[str] = set()
    for slug in ("gjj", "shebao", "shuiwu", "qiye"):
        shutil.copy(BUNDLED / "entries" / f"{slug}.jsonl", root / "entries")
        for line in (root / "entries" / f"{slug}.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("status", "published") == "published":
                ids.add(record["id"])
    packs = []
    for line in (BUNDLED / "packs.jsonl").read_text(encoding="utf-8").splitlines():
        pack = json.loads(line)
        pack["entries"] = [e for e in pack["entries"] if e in ids]
        if pack["entries"]:
            packs.append(json.dumps(pack, ensure_ascii=False))
    (root / "packs.jsonl").write_text("\n".join(packs) + "\n", encoding="utf-8")
    injected = {
        "id": "qiye-9999", "category": "企业开办与市场监管", "question": XSS_QUESTION,
        "alternates": ["年报页面出现尖括号代码怎么办？", "网页里的 img 标签代码是什么？",
                       "年报系统显示一段代码正常吗？"],
        "answer": f"这是一条用于检查网页安全的测试问答。如果您在页面上看到 {XSS} 这样的文字，说明页面把它当作普通文字"
                  "显示，没有执行其中的代码，这是正确的做法。企业年报请通过国家企业信用信息公示系统填报。",
        "policy_ids": [_first_policy_of("qiye")],
        "department": "市市场监管局", "audience": ["企业"], "updated": "2026-11-27", "status": "published",
    }
    with (root / "entries" / "qiye.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps(injected, ensure_ascii=False) + "\n")
    return root


def _first_policy_of(slug: str) -> str:
    first = json.loads((BUNDLED / "entries" / f"{slug}.jsonl").read_text("utf-8").splitlines()[0])
    return str(first["policy_ids"][0])


@dataclass
class Live:
    base: str
    host_page: str
    database_url: str

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, self.base + path, timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def live(browser_corpus: Path, encoder, models_dir: Path,  # type: ignore[no-untyped-def]
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """``qa serve`` on the small corpus, and an enterprise page on a second port embedding the widget."""
    work = tmp_path_factory.mktemp("live")
    index_dir = work / "index"
    build_index(browser_corpus, index_dir, encoder, "usem3")
    host_port = free_port()
    host_origin = f"http://127.0.0.1:{host_port}"
    database_url = f"sqlite:///{work / 'qa.sqlite3'}"
    env = {"QA_CORPUS_DIR": str(browser_corpus), "QA_INDEX_DIR": str(index_dir), "QA_MODELS_DIR": str(models_dir),
           "QA_DATABASE_URL": database_url, "QA_CORS_ORIGINS": host_origin}
    try:
        server, base = start_server(env, work / "serve.log")
    except QAError as exc:
        pytest.fail(str(exc))

    site = work / "site"
    site.mkdir()
    # An enterprise page with CSS that would wreck an unisolated widget.
    (site / "index.html").write_text(f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>某某科技有限公司</title>
<style>body {{ font: 20px serif; color: #0a0; background: #ffe; }} button {{ background: lime !important; }}
div {{ border: 3px dashed red; }} input {{ display: none; }}</style></head>
<body><h1>某某科技有限公司</h1><p>欢迎访问。右下角可以咨询政策。</p>
<script src="{base}/widget.js" data-api="{base}" data-title="政策小助手" data-color="#c00" data-position="right"
        data-categories="企业开办,税务" async></script></body></html>""", encoding="utf-8")
    # A page that opens the widget with a question already asked (data-question).
    (site / "ask.html").write_text(f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head><body>
<script src="{base}/widget.js" data-question="公司注销税务上怎么清税" async></script></body></html>""",
                                   encoding="utf-8")
    httpd = ThreadingHTTPServer(("127.0.0.1", host_port), partial(_Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield Live(base=base, host_page=host_origin + "/index.html", database_url=database_url)
    finally:
        httpd.shutdown()
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: `apt-get install chromium` (.ci/run installs it)")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; any JavaScript dialog (an injected alert) or anything the service's
    Content-Security-Policy had to block (the policy is too tight for a page) fails the test."""
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-US")
    tab = context.new_page()
    dialogs: list[str] = []
    blocked: list[str] = []
    tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    tab.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    tab.set_default_timeout(30_000)
    yield tab
    context.close()
    assert not dialogs, f"a script ran from page content: {dialogs}"
    assert not blocked, f"the CSP blocked part of a page: {blocked}"


def _shot(tab: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _open_chat(tab: Any, live: Live) -> None:
    tab.goto(live.base + "/")
    tab.wait_for_selector("#qa-input textarea")


def _ask_in_chat(tab: Any, question: str, selector: str = ".qa-card") -> Any:
    """Ask one question; return the locator of the new reply card."""
    before = tab.locator(f"#qa-chat {selector}").count()
    tab.locator("#qa-input textarea").fill(question)
    tab.locator("#qa-send").click()
    cards = tab.locator(f"#qa-chat {selector}")
    # Locator waits, not wait_for_function: the chat's CSP (rightly) forbids the eval that needs.
    cards.nth(before).wait_for()
    return cards.nth(before)


def test_policy_page_shows_qr_code_and_citing_entries(page: Any, live: Live) -> None:
    answer = live.api("POST", "/v1/ask", json={"question": "租房提取公积金需要满足什么条件"})["answer"]
    policy = live.api("GET", f"/v1/policies/{answer['sources'][0]['id']}")
    page.goto(live.base + policy["page"])
    assert page.locator("h1").inner_text() == policy["title"]
    assert page.locator("#qr-code svg").is_visible()
    assert page.locator("#qr-code svg").bounding_box()["width"] >= 100
    shown = page.locator("#entries summary").all_inner_texts()
    assert len(shown) == len(policy["entries"]) and any(answer["question"] in s for s in shown)
    assert page.locator("#status").inner_text() == policy["status"]
    _shot(page, "policy-page.png")


def test_chat_answer_card_has_working_source_links_and_chips(page: Any, live: Live) -> None:
    _open_chat(page, live)
    assert page.get_by_text("租房可以提取住房公积金吗？").first.is_visible()  # example questions on first load
    assert page.locator("#qa-packs button").count() >= 6  # policy packs offered on first load
    expected = live.api("POST", "/v1/ask", json={"question": "失业保险金怎么申请"})
    card = _ask_in_chat(page, "失业保险金怎么申请", ".qa-answered")
    assert expected["answer"]["question"] in card.locator(".qa-matched").inner_text()
    assert card.locator(".qa-text").inner_text().strip() == expected["answer"]["text"]
    source = expected["answer"]["sources"][0]
    with page.expect_popup() as popup:
        card.locator(".qa-policy").first.click()
    policy_tab = popup.value
    policy_tab.wait_for_load_state()
    assert policy_tab.locator("h1").inner_text() == source["title"]
    policy_tab.close()
    assert card.locator(".qa-official").first.get_attribute("href") == source["url"]

    chip = expected["related"][0]["question"]
    page.get_by_role("button", name=chip, exact=True).first.click()
    page.locator("#qa-chat .qa-answered").nth(1).wait_for()
    second = page.locator("#qa-chat .qa-answered").nth(1)
    assert chip in second.locator(".qa-matched").inner_text()
    _shot(page, "chat-answer.png")


def test_chat_asks_which_one_is_meant_and_answers_the_pick(page: Any, live: Live) -> None:
    _open_chat(page, live)
    expected = live.api("POST", "/v1/ask", json={"question": "养老金能领多少"})["clarify"]
    assert expected is not None, "养老金能领多少 fits 职工 and 城乡居民 entries alike"
    card = _ask_in_chat(page, "养老金能领多少", ".qa-clarify")
    assert expected["question"] in card.inner_text()
    assert page.locator("#qa-chat .qa-answered").count() == 0  # options, not a guess
    _shot(page, "chat-clarify.png")
    picked = expected["options"][1]
    page.get_by_role("button", name=picked["question"], exact=True).first.click()
    answer = page.locator("#qa-chat .qa-answered").first
    answer.wait_for()
    assert picked["question"] in answer.locator(".qa-matched").inner_text()
    # A typo is answered, and the correction is shown.
    _ask_in_chat(page, "租房体取公基金要带哪些资料", ".qa-answered")
    assert "您是不是要找：租房提取公积金要带哪些资料" in page.locator("#qa-chat .qa-corrected").last.inner_text()


def test_chat_answers_traditional_in_traditional(page: Any, live: Live) -> None:
    _open_chat(page, live)
    card = _ask_in_chat(page, "公積金怎麼提取", ".qa-answered")
    answered = live.api("POST", "/v1/ask", json={"question": "公積金怎麼提取"})["answer"]["id"]
    entry = live.api("GET", f"/v1/qa/{answered}")
    assert card.locator(".qa-text").inner_text().strip() == to_traditional(entry["answer"])
    assert "政策依據" in card.inner_text()


def test_chat_out_of_scope_gets_the_honest_fallback(page: Any, live: Live) -> None:
    _open_chat(page, live)
    card = _ask_in_chat(page, "今天天气怎么样")
    assert "qa-fallback" in (card.get_attribute("class") or "")
    assert "12345" in card.inner_text() and "没有可靠的答案" in card.inner_text()
    assert page.locator("#qa-chat .qa-answered").count() == 0


def test_chat_thumbs_up_reaches_the_feedback_store(page: Any, live: Live) -> None:
    _open_chat(page, live)
    entry_id = live.api("POST", "/v1/ask", json={"question": "个体户怎么交社保"})["answer"]["id"]
    _ask_in_chat(page, "个体户怎么交社保", ".qa-answered")
    page.locator("#qa-chat button[aria-label='Like']").last.click()
    store = Store(live.database_url)
    deadline = time.monotonic() + 15
    while not any(r["entry_id"] == entry_id and r["helpful"] and r["channel"] == "chat"
                  for r in store.feedback_rows()):
        assert time.monotonic() < deadline, "👍 did not reach the feedback store"
        time.sleep(0.3)
    row = next(r for r in store.feedback_rows() if r["entry_id"] == entry_id)
    assert row["query"] == "个体户怎么交社保"


def test_chat_shows_markup_in_an_answer_as_text(page: Any, live: Live) -> None:
    _open_chat(page, live)
    card = _ask_in_chat(page, XSS_QUESTION, ".qa-answered")
    assert XSS in card.locator(".qa-text").inner_text()
    assert page.locator("#qa-chat img[src='x']").count() == 0


def test_chat_fits_a_phone_screen(browser: Any, live: Live) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    tab = context.new_page()
    _open_chat(tab, live)
    _ask_in_chat(tab, "小规模纳税人免征增值税吗", ".qa-answered")
    width = tab.evaluate("document.documentElement.scrollWidth")
    _shot(tab, "chat-phone.png")
    context.close()
    assert width <= 375, f"page is {width}px wide on a 375px screen"


def test_widget_on_another_origin_answers_with_links_and_text_only(page: Any, live: Live) -> None:
    page.goto(live.host_page)
    launcher = page.locator("[data-qa-widget] .launcher")
    launcher.wait_for()
    assert launcher.is_visible() and "政策小助手" in launcher.inner_text()
    launcher.focus()
    page.keyboard.press("Enter")  # keyboard opens it, and the question box takes the focus
    box = page.locator("[data-qa-widget] input")
    assert box.is_visible() and box.evaluate("el => el.getRootNode().activeElement === el")

    box.fill("小规模纳税人月销售额10万以下免增值税吗")
    box.press("Enter")
    answer = page.locator("[data-qa-widget] .bot .policy").first
    answer.wait_for()
    href = answer.get_attribute("href") or ""
    assert href.startswith(live.base + "/policy/")
    assert httpx.get(href, timeout=30).status_code == 200
    expected = live.api("POST", "/v1/ask", json={"question": "小规模纳税人月销售额10万以下免增值税吗",
                                                 "categories": ["企业开办", "税务"]})
    assert expected["answer"]["text"] in page.locator("[data-qa-widget] .bot .text").last.inner_text()

    page.locator("[data-qa-widget] .rate button", has_text="有帮助").first.click()
    page.locator("[data-qa-widget] .rate", has_text="感谢您的反馈").wait_for()
    assert any(r["entry_id"] == expected["answer"]["id"] and r["helpful"] and r["channel"] == "widget"
               for r in Store(live.database_url).feedback_rows())

    # A question with several readings gets them as chips; a chip answers its entry.
    asked = {"question": "个税怎么交", "categories": ["企业开办", "税务"]}
    clarify = live.api("POST", "/v1/ask", json=asked)["clarify"]
    assert clarify is not None, "个税怎么交 fits several 税务 entries alike"
    box.fill("个税怎么交")
    box.press("Enter")
    page.locator("[data-qa-widget] .bot .text", has_text=clarify["question"]).wait_for()
    picked = clarify["options"][1]
    page.locator("[data-qa-widget] .chip", has_text=picked["question"]).last.click()
    page.locator("[data-qa-widget] .bot .matched", has_text=picked["question"]).wait_for()

    box.fill(XSS_QUESTION)
    box.press("Enter")
    page.wait_for_function(
        "t => [...document.querySelector('[data-qa-widget]').shadowRoot.querySelectorAll('.bot .text')]"
        ".some(n => n.textContent.includes(t))", arg=XSS)
    assert page.evaluate("document.querySelector('[data-qa-widget]').shadowRoot.querySelectorAll('img').length") == 0
    # The host page's hostile CSS does not reach into the widget, nor onto its host element.
    assert page.locator("[data-qa-widget]").evaluate("el => getComputedStyle(el).borderTopStyle") == "none"
    assert page.locator("[data-qa-widget] .send").evaluate("el => getComputedStyle(el).backgroundColor") \
        == "rgb(204, 0, 0)"
    _shot(page, "widget.png")
    page.keyboard.press("Escape")
    assert not page.locator("[data-qa-widget] .panel").is_visible()


def test_widget_fits_a_phone_screen(browser: Any, live: Live) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    tab = context.new_page()
    tab.goto(live.host_page)
    tab.locator("[data-qa-widget] .launcher").click()
    box = tab.locator("[data-qa-widget] .panel").bounding_box()
    tab.locator("[data-qa-widget] input").fill("新公司成立后税务上要办哪些事")
    tab.locator("[data-qa-widget] input").press("Enter")
    tab.locator("[data-qa-widget] .bot .policy").first.wait_for()
    _shot(tab, "widget-phone.png")
    context.close()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375


def test_widget_opens_with_the_question_the_page_asks(page: Any, live: Live) -> None:
    page.goto(live.host_page.replace("index.html", "ask.html"))
    page.locator("[data-qa-widget] .bot .policy").first.wait_for()
    assert page.locator("[data-qa-widget] .user").first.inner_text() == "公司注销税务上怎么清税"
    assert page.locator("[data-qa-widget] .panel").is_visible()


def test_widget_demo_page_shows_the_snippet_and_the_widget(page: Any, live: Live) -> None:
    page.goto(live.base + "/widget/demo")
    snippet = page.locator("#snippet").inner_text()
    assert f'src="{live.base}/widget.js"' in snippet and 'data-categories="企业开办,税务"' in snippet
    page.locator("[data-qa-widget] .launcher").click()
    assert page.locator("[data-qa-widget] .panel").is_visible()


def test_chat_packs_categories_bad_input_and_clear(page: Any, live: Live) -> None:
    _open_chat(page, live)
    pack = live.api("GET", "/v1/packs")[0]
    page.locator("#qa-packs button", has_text=pack["title"]).click()
    page.locator("#qa-chat .qa-pack").wait_for()
    first = pack["entries"][0]["question"]
    page.get_by_role("button", name=first, exact=True).first.click()
    page.locator("#qa-chat .qa-answered").first.wait_for()
    assert first in page.locator("#qa-chat .qa-answered .qa-matched").first.inner_text()

    page.locator("#qa-browse input").click()
    page.get_by_role("option", name="税务", exact=True).click()
    page.get_by_text("本类共有").wait_for()
    assert page.locator("#qa-chat .qa-card", has_text="税务").count() >= 1

    page.locator("#qa-input textarea").fill("？？？")
    page.locator("#qa-send").click()
    page.get_by_text("没有看懂这个问题").wait_for()  # punctuation only: asked to rephrase, not searched
    assert page.locator("#qa-chat .qa-fallback").count() == 0

    page.locator("#qa-clear").click()
    playwright_api.expect(page.locator("#qa-chat .qa-card")).to_have_count(0)
    assert page.get_by_text("租房可以提取住房公积金吗？").first.is_visible()  # the examples come back
