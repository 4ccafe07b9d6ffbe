"""LaTeX in titles and names, both ways: to readable Unicode text, and Unicode text to
BibTeX-safe LaTeX. Pure functions.

arXiv titles are LaTeX-ish source: mostly plain text, sometimes ``$\\mathcal{O}(T)$``,
``\\"o`` or a bare ``&``. BibTeX files carry ``{\\'E}tude`` and ``{GSR4B}``."""

from __future__ import annotations

import re
import unicodedata

# accent command -> combining character
_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
    "b": "\u0331",
}
_COMBINING_TO_ACCENT = {mark: cmd for cmd, mark in _ACCENTS.items() if cmd not in "db"}

_LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "aa": "å",
    "AA": "Å",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
    "dh": "ð",
    "DH": "Ð",
    "th": "þ",
    "TH": "Þ",
}
_LETTER_TO_COMMAND = {v: k for k, v in _LETTERS.items() if k not in ("i", "j")}

_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε",
    "varepsilon": "ε", "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ",
    "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ",
    "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ", "phi": "φ",
    "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ",
    "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ", "Phi": "Φ",
    "Psi": "Ψ", "Omega": "Ω", "times": "×", "ell": "ℓ", "circ": "°", "infty": "∞",
    "pm": "±", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠", "to": "→",
    "rightarrow": "→", "leftarrow": "←", "leftrightarrow": "↔", "Rightarrow": "⇒",
    "cdot": "·", "cdots": "⋯", "ldots": "…", "dots": "…", "sim": "∼", "approx": "≈",
    "in": "∈", "partial": "∂", "nabla": "∇", "sum": "∑", "prod": "∏", "sqrt": "√",
    "star": "⋆", "ast": "∗", "emptyset": "∅", "forall": "∀", "exists": "∃",
    "mid": "|", "vert": "|", "^": "^", "~": "~", "%": "%", "&": "&", "$": "$", "#": "#", "_": "_",
    "{": "{", "}": "}", "textbackslash": "\\", "textasciitilde": "~",
    "textasciicircum": "^", "textendash": "–", "textemdash": "—", "S": "§", "P": "¶",
    "copyright": "©", "textregistered": "®", "texttrademark": "™", "euro": "€",
    "pounds": "£", "textquoteright": "’", "textquoteleft": "‘", "LaTeX": "LaTeX",
    "TeX": "TeX", " ": " ", ",": " ", ";": " ", ":": " ", "!": "", "quad": " ",
    "qquad": " ", "textpertenthousand": "‱", "textperthousand": "‰", "%s": "",
}  # fmt: skip

_ACCENT_CMD = re.compile(
    r"\\([`'^\"~=.])\s*(?:\{\s*(\\?[A-Za-z])\s*\}|(\\?[A-Za-z]))"
    r"|\\([uvHckrdb])(?:\s*\{\s*(\\?[A-Za-z])\s*\}|\s+([A-Za-z]))"
)
# one pass, so what a command renders to is never read again as LaTeX
_TOKEN = re.compile(r"\\([A-Za-z]+)\s?|\\([^A-Za-z\s])|([{}$~^])")
_MATH_SPAN = re.compile(r"(?<!\\)\$\$[^$]*\$\$|(?<!\\)\$[^$]*(?<!\\)\$")
_SUBSCRIPT = re.compile(r"(?<!\\)_")
_RAW = {"{": "", "}": "", "$": "", "^": "", "~": " "}
_LATEXY = re.compile(r"[\\${}~^]|--|``|''")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _accent(match: re.Match[str]) -> str:
    cmd = match.group(1) or match.group(4)
    base = match.group(2) or match.group(3) or match.group(5) or match.group(6) or ""
    if base in ("\\i", "\\j"):
        base = base[1]
    return unicodedata.normalize("NFC", base + _ACCENTS[cmd])


def _token(match: re.Match[str]) -> str:
    if match.group(3):
        return _RAW[match.group(3)]
    name = match.group(1) or match.group(2)
    if name == "\\":
        return " "
    if name in _LETTERS:
        return _LETTERS[name]
    if name in _SYMBOLS:
        return _SYMBOLS[name]
    return ""  # \textit, \mathcal, \emph …: the argument that follows stays, braces go


def latex_to_text(text: str) -> str:
    """Readable Unicode for LaTeX-ish text: accents composed, commands dropped (their
    arguments kept), symbols mapped, math dollars and grouping braces removed."""
    if not text:
        return ""
    if not _LATEXY.search(text):  # most titles: nothing to render
        return " ".join(text.split())
    out = _ACCENT_CMD.sub(_accent, text)
    out = out.replace("---", "—").replace("--", "–").replace("``", "“").replace("''", "”")
    out = _MATH_SPAN.sub(lambda m: _SUBSCRIPT.sub("", m.group(0)), out)  # $x_1$ -> x1
    out = _TOKEN.sub(_token, out)
    return " ".join(out.split())


def title_key(text: str) -> str:
    """The form titles are matched on: LaTeX rendered, accents and case folded,
    punctuation as spaces. 'M{\\"u}ller's {\\'E}tude' and 'Muller’s etude' agree."""
    plain = latex_to_text(text)
    if not plain.isascii():
        plain = unicodedata.normalize("NFKD", plain)
        plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    folded = plain.casefold()
    folded = folded.replace("ø", "o").replace("ł", "l").replace("æ", "ae").replace("œ", "oe")
    return " ".join(re.sub(r"[\W_]+", " ", folded).split())


# -- Unicode/arXiv text -> BibTeX ----------------------------------------------------

_MATH = re.compile(r"(?<!\\)\$(?:\\.|[^$\\])+?(?<!\\)\$")
_KNOWN_COMMAND = re.compile(r"\\(?:[A-Za-z]+|[`'^\"~=.&%$#_{} \\])")


def _balanced(text: str) -> bool:
    depth = 0
    for ch in re.sub(r"\\[{}]", "", text):
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    return depth == 0


def _escape_char(ch: str) -> str:
    if ch in "&%#_":
        return "\\" + ch
    if ch == "^":
        return "\\textasciicircum{}"
    if ch == "~":
        return "\\textasciitilde{}"
    if ord(ch) < 128:
        return ch
    if ch in _LETTER_TO_COMMAND:
        return "{\\" + _LETTER_TO_COMMAND[ch] + "}"
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    if len(marks) == 1 and marks in _COMBINING_TO_ACCENT and base.isascii() and base.isalpha():
        cmd = _COMBINING_TO_ACCENT[marks]
        if base in "ij":
            base = "\\" + base
        return f"{{\\{cmd}{base}}}" if not cmd.isalpha() else f"{{\\{cmd}{{{base}}}}}"
    return ch  # other letters (CJK, Greek …) stay UTF-8: BibTeX 0.99+/biber read them


def _escape_text(text: str, braces_ok: bool) -> str:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch == "\\":
            known = _KNOWN_COMMAND.match(text, pos)
            if known:  # already LaTeX (\"o, \textit, \&): keep it
                out.append(known.group(0))
                pos = known.end()
                continue
            out.append("\\textbackslash{}")
        elif ch in "{}":
            out.append(ch if braces_ok else "\\" + ch)
        elif ch == "$":
            out.append("\\$")
        else:
            out.append(_escape_char(ch))
        pos += 1
    return "".join(out)


def text_to_bibtex(text: str) -> str:
    """A field value safe inside BibTeX braces: ``$…$`` math and LaTeX commands already
    in the text are kept; bare specials (& % # _ ^ ~ \\ and stray $) are escaped;
    accented letters become accent commands; unbalanced braces are escaped."""
    text = _CONTROL.sub("", " ".join(text.split()))
    braces_ok = _balanced(text)
    out: list[str] = []
    pos = 0
    for math in _MATH.finditer(text):
        out.append(_escape_text(text[pos : math.start()], braces_ok))
        body = math.group(0)
        out.append(body if braces_ok and _balanced(body) else _escape_text(body, False))
        pos = math.end()
    out.append(_escape_text(text[pos:], braces_ok))
    return "".join(out)
