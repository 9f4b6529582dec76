"""The residents' chat: a Gradio app mounted at ``/`` of the service.

It renders exactly what ``POST /v1/ask`` returns (``qa.reply.compose``): an answer card with
its source policies, a clarifying question with its options as buttons, or an honest fallback
with the closest questions and the 12345 hotline; a correction it used shows as "您是不是要找".
Related questions are chips that ask themselves; 👍/👎 go to the feedback store; example
questions, policy packs and category browsing are offered on first load.
"""

from __future__ import annotations

import uuid
from html import escape
from typing import Any

from qa.reply import RELATED, compose
from qa.service import Service
from qa.store import Feedback, StoreUnavailable
from qa.text import question_problem
from ui.cards import reply_html, reply_options
from ui.gradio_import import gr

EXAMPLES = [
    "租房可以提取住房公积金吗？",
    "孩子刚出生，怎么给新生儿办医保？",
    "失业了怎么领失业金？",
    "个体工商户营业执照怎么办？",
    "退休后养老金每年要认证吗？",
    "公積金怎麼提取？",
]
BROWSE_LIMIT = 12

CSS = """
.gradio-container { max-width: 860px !important; margin: 0 auto; }
#qa-header h1 { font-size: 1.5rem; margin: 0.2em 0; }
#qa-header p { margin: 0.2em 0; color: #555; }
#qa-footer p { font-size: 0.85em; color: #777; }
.qa-card { line-height: 1.65; }
.qa-matched { font-size: 0.9em; color: #666; margin-bottom: 0.4em; }
.qa-sources ul { margin: 0.2em 0 0 1.2em; padding: 0; }
.qa-label { font-weight: 600; margin-top: 0.6em; }
.qa-badge { font-size: 0.78em; padding: 0 0.4em; border-radius: 3px; white-space: nowrap; }
.qa-ok { background: #e6f4ea; color: #1e6b34; }
.qa-revised { background: #fff4e0; color: #8a5a00; }
.qa-repealed { background: #fde8e8; color: #a61b1b; }
.qa-meta { font-size: 0.8em; color: #888; margin-top: 0.4em; }
.qa-hotline { margin-top: 0.5em; font-weight: 600; }
.qa-corrected, .qa-followup { font-size: 0.9em; color: #8a5a00; margin-bottom: 0.4em; }
@media (max-width: 480px) {
  .gradio-container { padding: 4px !important; }
  #qa-header h1 { font-size: 1.2rem; }
}
"""


def _new_state() -> dict[str, Any]:
    return {"session": uuid.uuid4().hex, "turns": {}}


class Chat:
    """Event handlers of the chat, bound to the running service."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def answer(self, question: str, history: list[dict[str, Any]], state: dict[str, Any],
               entry_id: str | None = None) -> tuple[Any, ...]:
        """Ask one question (or answer the entry a clarifying option names); append the question and
        the reply to the conversation. Follow-ups are read with the session's last question."""
        question = (question or "").strip()
        if not question:
            return "", history, state
        history = [*history, {"role": "user", "content": question}]
        problem = self._problem(question)
        if problem:
            return "", [*history, {"role": "assistant", "content": escape(problem)}], state
        searcher = self.service.searcher
        assert searcher is not None
        taken = self.service.understand(searcher, question, 1 + RELATED, None, state["session"], entry_id)
        self.service.note_query(taken.result, "chat")
        reply = compose(taken, state["session"])
        history.append({"role": "assistant", "content": reply_html(reply), "options": reply_options(reply)})
        if reply["clarify"]:  # the options' buttons answer their entries, not a new search
            state["picks"] = {o["question"]: o["id"] for o in reply["clarify"]["options"]}
        if reply["answered"]:
            state["turns"][str(len(history) - 1)] = {"query": question, "entry_id": reply["answer"]["id"]}
        return "", history, state

    def _problem(self, question: str) -> str | None:
        limit = self.service.settings.max_query_chars
        if self.service.searcher is None:
            return "服务正在启动或暂未就绪，请稍后再试。"
        problem = question_problem(question, limit)
        if problem == "too_long":
            return f"问题有点长（{len(question)}字），请控制在{limit}字以内，说清要办的事即可。"
        if problem:  # NUL or no letters at all (an empty question never gets here)
            return "没有看懂这个问题，请用文字描述您想办的事。"
        return None

    def option(self, evt: gr.SelectData, history: list[dict[str, Any]], state: dict[str, Any]) -> tuple[Any, ...]:
        value = evt.value
        text = str((value.get("text") or value.get("value") if isinstance(value, dict) else value) or "")
        picked = state.get("picks", {}).get(text)
        return self.answer(text, history, state, entry_id=picked)

    def feedback(self, evt: gr.LikeData, state: dict[str, Any]) -> None:
        """👍/👎 on an answer card, stored with the question and the entry it answered with."""
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        turn = state["turns"].get(str(index))
        if turn is None or evt.liked not in (True, False, "Like", "Dislike"):
            return  # a fallback or a prompt: there is no entry to rate
        helpful = evt.liked in (True, "Like")
        try:
            self.service.record_feedback(Feedback(query=turn["query"], entry_id=turn["entry_id"], helpful=helpful,
                                                  session_id=state["session"], channel="chat"))
        except StoreUnavailable:
            gr.Warning("反馈暂时无法记录，请稍后再试。")
            return
        gr.Info("感谢您的反馈！" if helpful else "感谢反馈，我们会改进这条回答。")

    def pack(self, pack_id: str, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Show a policy pack: who it is for and its questions as chips."""
        searcher = self.service.searcher
        if searcher is None:
            return history
        pack = next((p for p in searcher.index.packs if p["id"] == pack_id), None)
        if pack is None:  # the corpus was reloaded without this pack since the page was opened
            return [*history, {"role": "assistant", "content": "这个政策包已更新，请刷新页面后再看。"}]
        questions = [searcher.index.by_id[eid]["question"] for eid in pack["entries"] if eid in searcher.index.by_id]
        html = (f'<div class="qa-card qa-pack"><div class="qa-label">{escape(pack["title"])}</div>'
                f'<div class="qa-meta">适用人群：{escape(pack["audience"])}</div>'
                f'<div class="qa-text">{escape(pack["description"])}</div>'
                f'<div class="qa-label qa-related">点选下面的问题查看答案：</div></div>')
        return [*history, {"role": "assistant", "content": html,
                           "options": [{"label": q, "value": q} for q in questions]}]

    def browse(self, category: str | None, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Show the first questions of a category as chips."""
        searcher = self.service.searcher
        if not category or searcher is None:
            return history
        table = searcher.index.entries
        entries = [table[row] for row, c in enumerate(table.categories) if c == category]
        html = (f'<div class="qa-card"><div class="qa-label">{escape(category)}</div>'
                f'<div class="qa-text">本类共有{len(entries)}条问答，下面是常见的{min(len(entries), BROWSE_LIMIT)}条；'
                f'也可以直接输入您的问题。</div></div>')
        options = [{"label": e["question"], "value": e["question"]} for e in entries[:BROWSE_LIMIT]]
        return [*history, {"role": "assistant", "content": html, "options": options}]


def build_chat(service: Service) -> Any:
    """The Gradio Blocks of the chat."""
    chat = Chat(service)
    index = service.searcher.index if service.searcher else None
    packs = index.packs if index else []
    categories = [c["name"] for c in index.categories] if index else []

    with gr.Blocks(title="政策问答 · 政策小助手", analytics_enabled=False) as blocks:
        # Markdown, not gr.HTML: gr.HTML evaluates templates with `new Function`, which the page's
        # Content-Security-Policy (no 'unsafe-eval') rightly forbids.
        gr.Markdown("# 政策问答\n用大白话问政策：社保、医保、公积金、户籍、就业、企业开办……"
                    "简体、繁体都可以。答案来自政策问答库，并附政策原文链接。", elem_id="qa-header")
        state = gr.State(_new_state)
        chatbot = gr.Chatbot(
            label="政策小助手", show_label=False, elem_id="qa-chat", height=520,
            examples=[{"text": q} for q in EXAMPLES],
            placeholder="您好！请直接输入您的问题，或点选下面的示例问题和专题政策包。",
            feedback_options=("Like", "Dislike"), sanitize_html=True, buttons=["copy"], autoscroll=True,
        )
        with gr.Row(equal_height=True):
            box = gr.Textbox(placeholder="请输入您的问题，例如：租房怎么提取公积金？", show_label=False, scale=5,
                             elem_id="qa-input", max_lines=4, submit_btn=False)
            send = gr.Button("发送", variant="primary", scale=1, min_width=72, elem_id="qa-send")
        with gr.Row():
            clear = gr.Button("清空对话", size="sm", elem_id="qa-clear")
        if packs:
            gr.Markdown("**专题政策包**：按人群汇集的常见问题")
            with gr.Row(elem_id="qa-packs"):
                for pack in packs:
                    button = gr.Button(pack["title"], size="sm", elem_classes=["qa-pack-button"])
                    button.click(lambda h, pid=pack["id"]: chat.pack(pid, h), [chatbot], [chatbot])
        browse = gr.Dropdown(choices=categories, value=None, label="按分类浏览", elem_id="qa-browse")
        gr.Markdown("本助手根据政策问答库作答，仅供参考，以政策原文和主管部门解释为准。"
                    "拿不准时请拨打 12345 政务服务便民热线。", elem_id="qa-footer")

        box.submit(chat.answer, [box, chatbot, state], [box, chatbot, state])
        send.click(chat.answer, [box, chatbot, state], [box, chatbot, state])
        chatbot.option_select(chat.option, [chatbot, state], [box, chatbot, state])
        chatbot.example_select(chat.option, [chatbot, state], [box, chatbot, state])
        chatbot.like(chat.feedback, [state], None)
        browse.change(chat.browse, [browse, chatbot], [chatbot])
        clear.click(lambda: ([], _new_state(), None), None, [chatbot, state, browse])
    return blocks
