/*
 * 政策小助手 — embeddable widget. One script tag, no dependencies, no build step:
 *
 *   <script src="https://HOST/widget.js" data-api="https://HOST" data-title="政策小助手"
 *           data-color="#c00" data-position="right" data-categories="企业开办,税务" async></script>
 *
 * data-key carries the site's API key (`qa keys add`) when the service gave it one.
 *
 * It adds a floating button that opens a chat panel inside a shadow root, so the host page's
 * CSS and the widget's cannot touch each other. Every text from the service (corpus answers,
 * questions, policy titles) is inserted with textContent, never as HTML; links are taken only
 * when they are http(s) URLs or this service's own pages.
 */
(function () {
  "use strict";

  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  if (!script || script.getAttribute("data-qa-loaded")) return;
  script.setAttribute("data-qa-loaded", "1");

  function attr(name, fallback) {
    var value = script.getAttribute("data-" + name);
    return value === null || value === "" ? fallback : value;
  }

  var scriptOrigin = new URL(script.src, location.href).origin;
  var api = attr("api", scriptOrigin).replace(/\/+$/, "");
  var title = attr("title", "政策小助手");
  var color = /^#[0-9a-fA-F]{3,8}$|^[a-zA-Z]{3,20}$/.test(attr("color", "")) ? attr("color", "") : "#b71c1c";
  var left = attr("position", "right") === "left";
  var categories = attr("categories", "").split(/[,，]/).map(function (s) { return s.trim(); })
    .filter(Boolean);
  var firstQuestion = attr("question", "");
  var key = attr("key", "");
  var session = "w" + Math.random().toString(36).slice(2) + Date.now().toString(36);

  var CSS = [
    ":host { all: initial; }",
    "* { box-sizing: border-box; font-family: system-ui, 'PingFang SC', 'Microsoft YaHei', 'WenQuanYi Zen Hei', sans-serif; }",
    ".launcher { position: fixed; bottom: 20px; SIDE: 20px; z-index: 2147483000; border: 0; border-radius: 28px;",
    "  background: COLOR; color: #fff; padding: 12px 18px; font-size: 15px; cursor: pointer;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.25); }",
    ".launcher:focus-visible, button:focus-visible, input:focus-visible, a:focus-visible { outline: 3px solid #1a73e8; outline-offset: 2px; }",
    ".panel { position: fixed; bottom: 84px; SIDE: 20px; z-index: 2147483001; width: 380px; max-width: calc(100vw - 24px);",
    "  height: 560px; max-height: calc(100vh - 110px); background: #fff; color: #222; border-radius: 12px;",
    "  box-shadow: 0 8px 30px rgba(0,0,0,.3); display: flex; flex-direction: column; overflow: hidden; font-size: 14px; line-height: 1.6; }",
    ".panel[hidden] { display: none; }",
    ".head { background: COLOR; color: #fff; padding: 10px 14px; display: flex; align-items: center; justify-content: space-between; }",
    ".head h2 { font-size: 16px; margin: 0; font-weight: 600; }",
    ".close { background: transparent; border: 0; color: #fff; font-size: 22px; line-height: 1; cursor: pointer; padding: 2px 6px; }",
    ".log { flex: 1; overflow-y: auto; padding: 12px; background: #f6f7f9; }",
    ".msg { margin: 0 0 10px; padding: 8px 10px; border-radius: 8px; max-width: 92%; white-space: pre-wrap; word-break: break-word; }",
    ".user { background: COLOR; color: #fff; margin-left: auto; }",
    ".bot { background: #fff; border: 1px solid #e3e3e3; }",
    ".matched { color: #666; font-size: 12px; margin-bottom: 4px; }",
    ".hint { color: #8a5a00; font-size: 12px; margin-bottom: 4px; }",
    ".label { font-weight: 600; margin-top: 6px; }",
    ".sources { margin: 2px 0 0 16px; padding: 0; }",
    ".badge { font-size: 11px; padding: 0 4px; border-radius: 3px; background: #e6f4ea; color: #1e6b34; margin-left: 4px; }",
    ".badge.repealed { background: #fde8e8; color: #a61b1b; }",
    ".chips { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }",
    ".chip { border: 1px solid COLOR; color: COLOR; background: #fff; border-radius: 14px; padding: 3px 10px; font-size: 13px; cursor: pointer; text-align: left; }",
    ".rate { margin-top: 6px; display: flex; gap: 6px; align-items: center; color: #888; font-size: 12px; }",
    ".rate button { border: 1px solid #ddd; background: #fff; border-radius: 4px; cursor: pointer; font-size: 14px; padding: 0 6px; }",
    "form { display: flex; gap: 6px; padding: 10px; border-top: 1px solid #eee; background: #fff; }",
    "input { flex: 1; min-width: 0; border: 1px solid #ccc; border-radius: 6px; padding: 8px; font-size: 14px; }",
    ".send { background: COLOR; color: #fff; border: 0; border-radius: 6px; padding: 0 14px; font-size: 14px; cursor: pointer; }",
    ".note { font-size: 11px; color: #999; padding: 0 10px 8px; background: #fff; }",
    "@media (max-width: 480px) { .panel { SIDE: 0; bottom: 0; width: 100vw; max-width: 100vw; height: 100%; max-height: 100%; border-radius: 0; }",
    "  .launcher { bottom: 12px; SIDE: 12px; } }"
  ].join("\n").replace(/COLOR/g, color).replace(/SIDE/g, left ? "left" : "right");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeHref(url) {
    if (typeof url !== "string") return null;
    if (/^https?:\/\//i.test(url)) return url;
    if (/^\/[A-Za-z0-9_\-./%]*$/.test(url)) return api + url; // this service's own pages
    return null;
  }

  // A custom element, not a div: the host page's element selectors (div, section …) cannot match it,
  // and its inline !important reset beats the page's own !important rules.
  var host = document.createElement("qa-policy-widget");
  host.setAttribute("data-qa-widget", "");
  host.setAttribute("style", "all: initial !important; display: block !important;");
  var root = host.attachShadow({ mode: "open" });
  var style = el("style", null, CSS);
  var launcher = el("button", "launcher", title);
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "qa-panel");

  var panel = el("section", "panel");
  panel.id = "qa-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  var head = el("div", "head");
  head.appendChild(el("h2", null, title));
  var close = el("button", "close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "关闭");
  head.appendChild(close);
  var log = el("div", "log");
  log.setAttribute("aria-live", "polite");
  var form = el("form");
  var input = el("input");
  input.type = "text";
  input.maxLength = 500;
  input.placeholder = "请输入您的问题";
  input.setAttribute("aria-label", "您的问题");
  var send = el("button", "send", "发送");
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  var note = el("div", "note", "答案来自政策问答库，仅供参考，以政策原文为准。拿不准请拨打12345。");
  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(form);
  panel.appendChild(note);
  root.appendChild(style);
  root.appendChild(launcher);
  root.appendChild(panel);

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function say(className, text) {
    var bubble = el("div", "msg " + className, text);
    log.appendChild(bubble);
    scrollDown();
    return bubble;
  }

  function chips(bubble, heading, related, pick) {
    if (!related || !related.length) return;
    if (heading) bubble.appendChild(el("div", "label", heading));
    var box = el("div", "chips");
    related.forEach(function (item) {
      var chip = el("button", "chip", item.question);
      chip.type = "button";
      // A clarifying question's option answers its entry; a related question is asked anew.
      chip.addEventListener("click", function () { ask(item.question, pick ? item.id : null); });
      box.appendChild(chip);
    });
    bubble.appendChild(box);
  }

  function rating(bubble, question, entryId) {
    var row = el("div", "rate", "有帮助吗？");
    [["有帮助", true], ["没帮助", false]].forEach(function (choice) {
      var button = el("button", null, choice[0]);
      button.type = "button";
      button.addEventListener("click", function () {
        post("/v1/feedback", { query: question, entry_id: entryId, helpful: choice[1], session_id: session, channel: "widget" })
          .then(function () { row.textContent = "感谢您的反馈！"; })
          .catch(function () { row.textContent = "反馈暂时无法提交。"; });
      });
      row.appendChild(button);
    });
    bubble.appendChild(row);
  }

  function render(reply) {
    var bubble = say("bot", null);
    var understood = reply.understood || {};
    if (understood.corrected) bubble.appendChild(el("div", "hint", "您是不是要找：" + understood.corrected));
    if (understood.followup_of) bubble.appendChild(el("div", "hint", "结合上一个问题，按这个意思回答：" + understood.searched));
    if (reply.clarify) {
      bubble.appendChild(el("div", "text", reply.clarify.question));
      chips(bubble, "", reply.clarify.options, true);
    } else if (reply.answered && reply.answer) {
      var a = reply.answer;
      bubble.appendChild(el("div", "matched", "匹配问题：" + a.question));
      bubble.appendChild(el("div", "text", a.text));
      if (a.sources && a.sources.length) {
        bubble.appendChild(el("div", "label", "政策依据"));
        var list = el("ul", "sources");
        a.sources.forEach(function (s) {
          var item = el("li");
          var href = safeHref(s.page) || safeHref(s.url);
          var link = el(href ? "a" : "span", "policy", s.title);
          if (href) { link.href = href; link.target = "_blank"; link.rel = "noopener noreferrer"; }
          item.appendChild(link);
          if (s.doc_no) item.appendChild(document.createTextNode(" " + s.doc_no));
          var badge = el("span", "badge" + (/废止/.test(s.status) ? " repealed" : ""), s.status);
          item.appendChild(badge);
          list.appendChild(item);
        });
        bubble.appendChild(list);
      }
      rating(bubble, reply.question, a.id);
      chips(bubble, "猜你想问", reply.related);
    } else {
      bubble.appendChild(el("div", "text", reply.message || "抱歉，暂时没有找到可靠的答案。"));
      chips(bubble, "您是不是想问", reply.related);
    }
    scrollDown();
  }

  function post(path, body) {
    var headers = { "Content-Type": "application/json" };
    if (key) headers["X-API-Key"] = key;
    return fetch(api + path, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          // Residents read the Chinese part; the English in brackets is for developers.
          var text = (data.message || "").replace(/\s*\([^()]*\)\s*$/, "");
          var error = new Error(text || ("HTTP " + response.status));
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  var busy = false;
  function ask(question, entryId) {
    question = (question || "").trim();
    if (!question || busy) return;
    busy = true;
    send.disabled = true;
    say("user", question);
    var waiting = say("bot", "正在查找…");
    var body = { question: question, session_id: session, channel: "widget" };
    if (categories.length) body.categories = categories;
    if (entryId) body.entry_id = entryId;
    post("/v1/ask", body)
      .then(function (reply) { log.removeChild(waiting); render(reply); })
      .catch(function (error) {
        waiting.textContent = error.status && error.status < 500
          ? error.message
          : "服务暂时无法连接，请稍后再试，或拨打12345政务服务便民热线。";
      })
      .then(function () { busy = false; send.disabled = false; });
  }

  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    if (!log.childNodes.length) {
      say("bot", "您好！我是" + title + "，请输入您想了解的政策问题。");
    }
    input.focus();
  }

  function shut() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () { if (panel.hidden) open(); else shut(); });
  close.addEventListener("click", shut);
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") shut(); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var question = input.value;
    input.value = "";
    ask(question);
  });

  function mount() {
    document.body.appendChild(host);
    if (firstQuestion) { open(); ask(firstQuestion); }
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
