"""The agent's built-in tools: a calculator, the date and time, unit conversion, knowledge-base search.
Web search and reading a URL come from chatchat.web (see `web_tools`)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from simpleeval import SimpleEval

from chatchat.agent.tools import Tool, ToolError

if TYPE_CHECKING:
    from chatchat.retrieval.chunks import Hit

SNIPPET = 600

# --- calculator ------------------------------------------------------------------------------------
_FUNCTIONS = {name: getattr(math, name) for name in (
    "sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "log", "log10", "log2", "exp", "floor", "ceil",
    "factorial", "radians", "degrees")}
_FUNCTIONS.update(abs=abs, round=round, min=min, max=max, pow=pow)
_NAMES = {"pi": math.pi, "e": math.e}
# what people type in Chinese and on phones: full-width digits and signs, × ÷, ^ for power, 1,000 separators
_WIDE = str.maketrans("０１２３４５６７８９（）＋－＊／．，×÷＾％", "0123456789()+-*/.,*/^%")


def calculate(expression: str) -> str:
    """The value of an arithmetic expression, evaluated safely (no names but math functions, no attributes,
    no huge powers): simpleeval, never Python's eval."""
    text = expression.translate(_WIDE).replace("^", "**")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = re.sub(r"(\d+(?:\.\d+)?)%", r"(\1/100)", text)
    try:
        value = SimpleEval(functions=_FUNCTIONS, names=_NAMES).eval(text)
    except ZeroDivisionError:
        raise ToolError(f"Division by zero in {expression!r}.") from None
    except Exception as exc:  # simpleeval raises its own errors for names, attributes, too-big powers, syntax
        raise ToolError(f"Cannot calculate {expression!r}: {exc}") from None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return str(value)


# --- units -----------------------------------------------------------------------------------------
# unit -> (dimension, factor to the dimension's base unit)
_UNITS: dict[str, tuple[str, float]] = {}
for dimension, table in {
    "length": {"m": 1, "km": 1e3, "cm": 1e-2, "mm": 1e-3, "um": 1e-6, "nm": 1e-9, "mi": 1609.344, "yd": 0.9144,
               "ft": 0.3048, "in": 0.0254, "nmi": 1852, "米": 1, "公里": 1e3, "千米": 1e3, "厘米": 1e-2,
               "毫米": 1e-3, "里": 500, "尺": 1 / 3, "寸": 1 / 30, "英里": 1609.344, "英尺": 0.3048, "英寸": 0.0254},
    "mass": {"kg": 1, "g": 1e-3, "mg": 1e-6, "t": 1e3, "lb": 0.45359237, "oz": 0.028349523125, "公斤": 1,
             "千克": 1, "克": 1e-3, "吨": 1e3, "斤": 0.5, "两": 0.05, "磅": 0.45359237, "盎司": 0.028349523125},
    "area": {"m2": 1, "km2": 1e6, "ha": 1e4, "acre": 4046.8564224, "ft2": 0.09290304, "亩": 2000 / 3,
             "公顷": 1e4, "平方米": 1, "平方公里": 1e6},
    "volume": {"l": 1, "ml": 1e-3, "m3": 1e3, "gal": 3.785411784, "升": 1, "毫升": 1e-3},
    "data": {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 1024, "mib": 1024**2,
             "gib": 1024**3, "tib": 1024**4},
    "time": {"s": 1, "ms": 1e-3, "min": 60, "h": 3600, "d": 86400, "秒": 1, "分钟": 60, "小时": 3600, "天": 86400},
    "speed": {"m/s": 1, "km/h": 1 / 3.6, "mph": 0.44704, "kn": 0.514444},
}.items():
    _UNITS.update({unit: (dimension, factor) for unit, factor in table.items()})
_TEMPERATURE = {"c": "c", "°c": "c", "摄氏度": "c", "f": "f", "°f": "f", "华氏度": "f", "k": "k", "开尔文": "k"}


def _to_kelvin(value: float, unit: str) -> float:
    return {"c": value + 273.15, "f": (value - 32) * 5 / 9 + 273.15, "k": value}[unit]


def _from_kelvin(value: float, unit: str) -> float:
    return {"c": value - 273.15, "f": (value - 273.15) * 9 / 5 + 32, "k": value}[unit]


def convert(value: float, from_unit: str, to_unit: str) -> str:
    """`value` in `from_unit` expressed in `to_unit` (length, mass, area, volume, data, time, speed,
    temperature; SI, imperial and Chinese market units). Currencies are not converted: rates change."""
    source, target = from_unit.strip().lower(), to_unit.strip().lower()
    if source in _TEMPERATURE and target in _TEMPERATURE:
        result = _from_kelvin(_to_kelvin(float(value), _TEMPERATURE[source]), _TEMPERATURE[target])
    else:
        if source not in _UNITS or target not in _UNITS:
            unknown = source if source not in _UNITS else target
            raise ToolError(f"Unknown unit '{unknown}'. Known: {', '.join(sorted(_UNITS))}, C, F, K.")
        (dim_a, factor_a), (dim_b, factor_b) = _UNITS[source], _UNITS[target]
        if dim_a != dim_b:
            raise ToolError(f"Cannot convert {dim_a} ({from_unit}) to {dim_b} ({to_unit}).")
        result = float(value) * factor_a / factor_b
    return f"{value:g} {from_unit} = {result:.6g} {to_unit}"


def now(timezone: str = "") -> str:
    """The current date, time and weekday (the machine's time zone, or an IANA zone such as Asia/Shanghai)."""
    if timezone:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            moment = datetime.now(ZoneInfo(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ToolError(f"Unknown time zone '{timezone}'; use a name such as Asia/Shanghai or Europe/Berlin.") from None
    else:
        moment = datetime.now().astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z (%A), UTC offset %z")


# --- knowledge bases -------------------------------------------------------------------------------
def format_hits(hits: list[Hit]) -> str:
    if not hits:
        return "No passage in the knowledge base matches."
    return "\n\n".join(
        f"[{i}] {hit.file}" + (f" p.{hit.page}" if hit.page else "") + (f" · {hit.section}" if hit.section else "")
        + f"\n{hit.text[:SNIPPET]}" for i, hit in enumerate(hits, 1))


def kb_search_tool(search: Callable[[list[str], str], list[Hit]], kbs: list[str]) -> Tool:
    """Search the given knowledge bases (`search(kbs, query)` ranks their passages as one)."""
    def run(arguments: dict[str, Any]) -> str:
        query = str(arguments.get("query") or "").strip()
        if not query:
            raise ToolError("search_knowledge_base needs a non-empty 'query'.")
        return format_hits(search(kbs, query))

    return Tool(
        "search_knowledge_base",
        f"Search the user's documents (knowledge bases: {', '.join(kbs)}) for passages about a question. "
        "Use it for anything the documents may cover.",
        {"type": "object", "properties": {"query": {"type": "string", "description": "what to look for"}},
         "required": ["query"]},
        run,
    )


def basic_tools() -> list[Tool]:
    """The tools that need nothing but this process."""
    return [
        Tool("calculator", "Evaluate an arithmetic expression exactly (+ - * / ** %, sqrt, log, sin, pi...).",
             {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]},
             lambda a: calculate(str(a.get("expression", ""))), timeout_s=5),
        Tool("current_time", "The current date, time and weekday, optionally in an IANA time zone.",
             {"type": "object", "properties": {"timezone": {"type": "string", "description": "e.g. Asia/Shanghai"}}},
             lambda a: now(str(a.get("timezone") or "")), timeout_s=5),
        Tool("convert_units", "Convert a value between units of length, mass, area, volume, data size, time, "
             "speed or temperature (metric, imperial and Chinese units such as 斤, 里, 亩).",
             {"type": "object", "properties": {"value": {"type": "number"}, "from_unit": {"type": "string"},
                                               "to_unit": {"type": "string"}},
              "required": ["value", "from_unit", "to_unit"]},
             lambda a: convert(float(a.get("value", 0)), str(a.get("from_unit", "")), str(a.get("to_unit", ""))),
             timeout_s=5),
    ]
