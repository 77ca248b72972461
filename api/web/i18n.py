"""The one translation table of the pages (zh / en). Templates call ``t("key")``; Python code
never writes user-facing page strings inline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

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
    # --- the public page ---
    "public.title": {"zh": "杨浦停车信息", "en": "Yangpu parking"},
    "public.lead": {
        "zh": "全区停车场实时空位、错峰共享时段与收费标准。",
        "en": "Every lot's free spaces live, off-peak shared windows and tariffs.",
    },
    "nav.map": {"zh": "地图", "en": "Map"},
    "nav.signin": {"zh": "车主登录", "en": "Driver sign-in"},
    "nav.signout": {"zh": "退出登录", "en": "Sign out"},
    "nav.mine": {"zh": "我的预约与停车", "en": "My bookings & stays"},
    "nav.console": {"zh": "管理后台", "en": "Console"},
    "lots.heading": {"zh": "停车场", "en": "Parking lots"},
    "lots.free": {"zh": "空位", "en": "free"},
    "lots.of": {"zh": "共", "en": "of"},
    "lots.price_now": {"zh": "当前每小时", "en": "now per hour"},
    "lots.tariff": {"zh": "收费标准", "en": "Tariff"},
    "lots.free_minutes": {"zh": "免费分钟", "en": "free minutes"},
    "lots.per_unit": {"zh": "每{n}分钟", "en": "per {n} min"},
    "lots.daily_cap": {"zh": "每日封顶", "en": "daily cap"},
    "lots.shared": {"zh": "错峰共享车位", "en": "Off-peak shared spaces"},
    "lots.shared_open": {"zh": "当前开放", "en": "open now"},
    "lots.shared_closed": {"zh": "当前未开放", "en": "closed now"},
    "lots.none": {"zh": "暂无停车场。", "en": "No lots yet."},
    "lots.live_on": {"zh": "实时更新中", "en": "live"},
    "lots.live_off": {"zh": "未连接实时数据", "en": "not live"},
    "kind.garage": {"zh": "停车库", "en": "garage"},
    "kind.surface": {"zh": "地面停车场", "en": "surface lot"},
    "kind.on_street": {"zh": "路内泊位", "en": "on-street"},
    "kind.residential_shared": {"zh": "小区共享", "en": "residential shared"},
    "day.0": {"zh": "周一", "en": "Mon"},
    "day.1": {"zh": "周二", "en": "Tue"},
    "day.2": {"zh": "周三", "en": "Wed"},
    "day.3": {"zh": "周四", "en": "Thu"},
    "day.4": {"zh": "周五", "en": "Fri"},
    "day.5": {"zh": "周六", "en": "Sat"},
    "day.6": {"zh": "周日", "en": "Sun"},
    "nearest.heading": {"zh": "最近的有空位停车场", "en": "Nearest lot with free spaces"},
    "nearest.locate": {"zh": "用我的位置", "en": "Use my location"},
    "nearest.none": {"zh": "附近没有空位。", "en": "No free spaces anywhere near."},
    "nearest.away": {"zh": "距离", "en": "away"},
    "book.heading": {"zh": "预约", "en": "Book"},
    "book.start": {"zh": "开始时间(北京时间)", "en": "Start (Shanghai time)"},
    "book.hours": {"zh": "小时数", "en": "Hours"},
    "book.plate": {"zh": "车牌", "en": "Plate"},
    "book.submit": {"zh": "预约", "en": "Book"},
    "book.signin_to_book": {"zh": "登录后可预约并在线支付", "en": "Sign in to book and pay online"},
    "signin.title": {"zh": "车主登录", "en": "Driver sign-in"},
    "signin.token": {"zh": "令牌", "en": "Token"},
    "signin.help": {
        "zh": "粘贴注册时获得的令牌;浏览器只保存一个会话 Cookie,不保存令牌本身。",
        "en": "Paste the token you got when you registered; the browser keeps a session, never the token.",
    },
    "signin.submit": {"zh": "登录", "en": "Sign in"},
    "signin.failed": {"zh": "令牌无效或已停用。", "en": "That token is not valid here."},
    "mine.title": {"zh": "我的预约与停车", "en": "My bookings and stays"},
    "mine.bookings": {"zh": "预约", "en": "Bookings"},
    "mine.sessions": {"zh": "停车记录", "en": "Stays"},
    "mine.owed": {"zh": "欠费", "en": "Money owed"},
    "mine.none": {"zh": "暂无。", "en": "None yet."},
    "mine.pay": {"zh": "支付", "en": "Pay"},
    "mine.plates": {"zh": "我的车牌", "en": "My plates"},
    "mine.add_plate": {"zh": "添加车牌", "en": "Add plate"},
    "book.add_plate_first": {"zh": "先添加车牌再预约", "en": "Add a plate to book"},
    "mine.paid": {"zh": "已付", "en": "paid"},
    "col.lot": {"zh": "停车场", "en": "Lot"},
    "col.start": {"zh": "开始", "en": "Start"},
    "col.end": {"zh": "结束", "en": "End"},
    "col.status": {"zh": "状态", "en": "Status"},
    "col.price": {"zh": "价格", "en": "Price"},
    "col.plate": {"zh": "车牌", "en": "Plate"},
    "col.entry": {"zh": "入场", "en": "Entry"},
    "col.exit": {"zh": "出场", "en": "Exit"},
    "col.fee": {"zh": "费用", "en": "Fee"},
    "col.paid": {"zh": "已付", "en": "Paid"},
    "col.amount": {"zh": "金额", "en": "Amount"},
    "col.reason": {"zh": "原因", "en": "Reason"},
    "col.when": {"zh": "时间", "en": "When"},
    "col.kind": {"zh": "类型", "en": "Kind"},
    "col.detail": {"zh": "详情", "en": "Detail"},
    "col.name": {"zh": "名称", "en": "Name"},
    "col.space": {"zh": "车位", "en": "Space"},
    "col.source": {"zh": "来源", "en": "Source"},
    "col.confidence": {"zh": "置信度", "en": "Confidence"},
    "col.last_seen": {"zh": "最近联系", "en": "Last seen"},
    "col.lots": {"zh": "停车场数", "en": "Lots"},
    "col.devices": {"zh": "设备数", "en": "Devices"},
    "col.revenue": {"zh": "收入", "en": "Revenue"},
    "col.owed": {"zh": "欠费", "en": "Owed"},
    "checkout.back": {"zh": "返回我的预约", "en": "Back to my bookings"},
    # --- the console ---
    "console.title": {"zh": "管理后台", "en": "Console"},
    "console.login": {"zh": "运营方 / 管理员登录", "en": "Operator / admin sign-in"},
    "console.login_help": {
        "zh": "使用运营方令牌或区级管理员令牌登录。",
        "en": "Sign in with an operator token or the district admin token.",
    },
    "console.logout": {"zh": "退出", "en": "Log out"},
    "console.you_admin": {"zh": "区级管理员", "en": "District admin"},
    "console.you_operator": {"zh": "运营方", "en": "Operator"},
    "nav.district": {"zh": "区域地图", "en": "District map"},
    "nav.flags": {"zh": "待审核", "en": "Flags"},
    "nav.bookings": {"zh": "预约", "en": "Bookings"},
    "nav.sessions": {"zh": "停车与欠费", "en": "Sessions & owed"},
    "nav.reports": {"zh": "收入与占用", "en": "Revenue & occupancy"},
    "nav.positioning": {"zh": "定位", "en": "Positioning"},
    "nav.operators": {"zh": "运营方", "en": "Operators"},
    "nav.admin_district": {"zh": "全区概况", "en": "District"},
    "reports.district_occupancy": {"zh": "全区每小时占用率(%)", "en": "District occupancy per hour (%)"},
    "nav.devices": {"zh": "设备", "en": "Devices"},
    "lot.spaces": {"zh": "车位", "en": "Spaces"},
    "lot.events": {"zh": "最近事件", "en": "Last events"},
    "lot.today_bookings": {"zh": "今日预约", "en": "Today's bookings"},
    "lot.today_sessions": {"zh": "今日停车", "en": "Today's stays"},
    "lot.congested": {"zh": "入口拥堵", "en": "entrance congested"},
    "lot.flowing": {"zh": "入口通畅", "en": "entrance flowing"},
    "lot.arrivals": {"zh": "每分钟到达", "en": "arrivals per minute"},
    "state.free": {"zh": "空闲", "en": "free"},
    "state.occupied": {"zh": "占用", "en": "occupied"},
    "state.reserved": {"zh": "已预约", "en": "booked"},
    "state.out_of_service": {"zh": "停用", "en": "out of service"},
    "state.shared": {"zh": "共享时段", "en": "shared window"},
    "flags.title": {"zh": "待审核队列", "en": "Flags queue"},
    "flags.none": {"zh": "没有待审核的记录。", "en": "Nothing awaits review."},
    "flags.resolve": {"zh": "处理", "en": "Resolve"},
    "flags.reason": {"zh": "处理说明", "en": "Reason"},
    "flags.resolved": {"zh": "已处理", "en": "Resolved"},
    "sessions.title": {"zh": "停车记录与欠费", "en": "Sessions and money owed"},
    "reports.title": {"zh": "收入与占用", "en": "Revenue and occupancy"},
    "reports.revenue": {"zh": "每日收入(元)", "en": "Revenue per day (yuan)"},
    "reports.occupancy": {"zh": "每小时占用率", "en": "Occupancy per hour"},
    "reports.days": {"zh": "天数", "en": "Days"},
    "positioning.title": {"zh": "定位服务", "en": "Positioning"},
    "positioning.mounts": {"zh": "NTRIP 挂载点", "en": "NTRIP mounts"},
    "positioning.users": {"zh": "流动站账号", "en": "Rover accounts"},
    "positioning.online": {"zh": "在线", "en": "online"},
    "positioning.offline": {"zh": "离线", "en": "offline"},
    "positioning.clients": {"zh": "客户端", "en": "clients"},
    "positioning.age": {"zh": "最近帧(秒前)", "en": "last frame (s ago)"},
    "positioning.rates": {"zh": "电文速率", "en": "message rates"},
    "positioning.base": {"zh": "基站位置", "en": "base position"},
    "positioning.vehicles": {"zh": "车辆", "en": "Vehicles"},
    "positioning.track": {"zh": "轨迹", "en": "Track"},
    "positioning.plot": {"zh": "上传并绘图", "en": "Upload and plot"},
    "fix.fixed": {"zh": "RTK 固定解", "en": "RTK fixed"},
    "fix.float": {"zh": "RTK 浮点解", "en": "RTK float"},
    "fix.dgnss": {"zh": "差分", "en": "DGNSS"},
    "fix.single": {"zh": "单点", "en": "single"},
    "operators.title": {"zh": "运营方", "en": "Operators"},
    "operators.create": {"zh": "新建运营方", "en": "Create operator"},
    "operators.created": {
        "zh": "已创建。令牌只显示这一次,请妥善保存:",
        "en": "Created. The token is shown this once; keep it safe:",
    },
    "devices.title": {"zh": "设备令牌", "en": "Device tokens"},
}


LANG_COOKIE = "beidou_lang"


def language(request: Request) -> str:
    """``?lang=`` first, then the choice remembered from an earlier switch, then the browser's
    Accept-Language; Chinese by default (the district's)."""
    for asked in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
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


SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_time(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant as the district reads it (Asia/Shanghai wall clock); '' for none."""
    return "" if at is None else at.astimezone(SHANGHAI).strftime(fmt)
