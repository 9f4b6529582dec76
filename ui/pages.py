"""Server-rendered pages: the policy "ID card" (``/policy/{id}``, with its QR code), the
widget script (``/widget.js``) and the widget's demo host page (``/widget/demo``).

Templates are Jinja2 with autoescaping on: corpus text is always inserted as text.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from qa.api.deps import SearcherDep, ServiceDep
from qa.api.routes.policies import policy_card
from qa.corpus import LIFECYCLE
from qa.errors import PolicyNotFound
from ui import UI_DIR

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _templates() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(UI_DIR / "templates"), autoescape=select_autoescape(default=True))


def render(name: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(_templates().get_template(name).render(**context))


def public_base(request: Request, public_url: str) -> str:
    """The base URL residents reach the service at: the setting, else what this request used."""
    return (public_url or str(request.base_url)).rstrip("/")


def policy_url(request: Request, public_url: str, policy_id: str) -> str:
    """The public address of a policy's page (what its QR code opens)."""
    return f"{public_base(request, public_url)}/policy/{policy_id}"


def qr_svg(url: str) -> str:
    """An SVG QR code (the ``qrcode`` package) that opens ``url``."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return image.to_string(encoding="unicode")  # type: ignore[no-any-return]


def lifecycle(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """The stages 制定 → 发布 → 解读 → 兑现 → 评估 with what is known of each."""
    links = policy.get("links") or {}
    stages = []
    for stage in LIFECYCLE:
        url = links.get(stage) or (policy["url"] if stage == "发布" else None)
        note = ""
        if stage == "发布":
            note = policy["published"]
        elif stage == "解读" and policy["entries"]:
            note = f"本平台问答解读 {len(policy['entries'])} 条"
        stages.append({"stage": stage, "url": url, "note": note, "known": bool(url or note)})
    return stages


@router.get("/policy/{policy_id}", response_class=HTMLResponse)
async def policy_page(policy_id: str, request: Request, searcher: SearcherDep, service: ServiceDep) -> HTMLResponse:
    try:
        policy = policy_card(searcher, policy_id)
    except PolicyNotFound:
        page = render("not_found.html", policy_id=policy_id)
        page.status_code = 404
        return page
    page_url = policy_url(request, service.settings.public_url, policy_id)
    entries = [searcher.entry(e["id"]) for e in policy["entries"]]
    return render("policy.html", policy=policy, entries=entries, stages=lifecycle(policy), qr=qr_svg(page_url),
                  page_url=page_url)


@router.get("/policy/{policy_id}/qr.svg")
async def policy_qr(policy_id: str, request: Request, searcher: SearcherDep, service: ServiceDep) -> Response:
    policy_card(searcher, policy_id)  # 404 for an unknown policy
    page_url = policy_url(request, service.settings.public_url, policy_id)
    return Response(qr_svg(page_url), media_type="image/svg+xml")


@router.get("/widget.js")
async def widget_js() -> Response:
    return Response((UI_DIR / "widget" / "widget.js").read_text(encoding="utf-8"),
                    media_type="application/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=300"})


@router.get("/widget/demo", response_class=HTMLResponse)
async def widget_demo(request: Request, service: ServiceDep) -> HTMLResponse:
    base = public_base(request, service.settings.public_url)
    snippet = (f'<script src="{base}/widget.js" data-api="{base}" data-title="政策小助手" data-color="#c00" '
               f'data-position="right" data-categories="企业开办,税务" async></script>')
    return render("widget_demo.html", snippet=snippet, base=base)
