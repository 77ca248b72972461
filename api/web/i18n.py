"""The one translation table of the pages (zh / en). Templates call ``t("key")``; Python code
never writes user-facing page strings inline."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

LANGUAGES = ("zh", "en")

STRINGS: dict[str, dict[str, str]] = {
    "site.name": {"zh": "杨浦区停车与北斗定位服务", "en": "Yangpu parking & BeiDou positioning"},
    "lang.switch": {"zh": "English", "en": "中文"},
    "checkout.title": {"zh": "沙箱支付", "en": "Sandbox checkout"},
    "checkout.notice": {
        "zh": "这是测试用的沙箱支付,不会产生真实扣款。",
        "en": "This is the sandbox payment provider: no real money moves.",
    },
    "checkout.amount": {"zh": "应付金额", "en": "Amount due"},
    "checkout.reference": {"zh": "支付单号", "en": "Payment reference"},
    "checkout.status": {"zh": "状态", "en": "Status"},
    "checkout.pay": {"zh": "确认支付", "en": "Pay"},
    "checkout.decline": {"zh": "取消支付", "en": "Decline"},
    "checkout.done.succeeded": {
        "zh": "支付成功。离场时道闸将自动抬杆。",
        "en": "Paid. The gate opens when you drive out.",
    },
    "checkout.done.failed": {"zh": "支付已取消。", "en": "The payment was declined."},
    "status.pending": {"zh": "待支付", "en": "pending"},
    "status.succeeded": {"zh": "已支付", "en": "paid"},
    "status.failed": {"zh": "已取消", "en": "declined"},
}


def language(request: Request) -> str:
    """``?lang=`` first, then the browser's Accept-Language; Chinese by default (the district's)."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    accept = request.headers.get("accept-language", "").lower()
    if accept.startswith("en"):
        return "en"
    return "zh"


def translator(lang: str) -> Callable[[str], str]:
    def t(key: str) -> str:
        entry = STRINGS.get(key)
        return key if entry is None else entry.get(lang) or entry["en"]

    return t


def yuan(fen: int) -> str:
    """Integer fen as a price, without floating point: 3050 -> '¥30.50'."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole}.{cents:02d}"
