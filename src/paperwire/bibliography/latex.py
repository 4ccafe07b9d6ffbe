"""LaTeX in titles and names, both ways, for bibliographies: to plain Unicode text (for
matching and exports; built on :func:`paperwire.latex.latex_to_text`, with math and
unknown commands flattened too), and Unicode text to BibTeX-safe LaTeX. Pure functions.

arXiv titles are LaTeX-ish source: mostly plain text, sometimes ``$\\mathcal{O}(T)$``,
``\\"o`` or a bare ``&``. BibTeX files carry ``{\\'E}tude`` and ``{GSR4B}``."""

from __future__ import annotations

import re
import unicodedata

from paperwire.latex import LETTERS, SYMBOL_ACCENTS, WORD_ACCENTS, read_latex

# Unicode -> the LaTeX that writes it, for export (\\d and \\b marks stay UTF-8).
_COMBINING_TO_ACCENT = {
    mark: cmd for cmd, mark in (SYMBOL_ACCENTS | WORD_ACCENTS).items() if cmd not in "db"
}
_LETTER_TO_COMMAND = {
    letter: name
    for name, letter in LETTERS.items()
    if name not in ("i", "j", "ng", "NG", "dj", "DJ")  # dotless i/j; ŋ, đ stay UTF-8
}

# What paperwire.latex leaves as LaTeX (math, commands it does not know) flattened for
# plain text: maths symbols as characters, other commands dropped (their argument stays).
_FLAT_SYMBOLS = {
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
    "mid": "|", "vert": "|", "^": "^", "~": "~", "%": "%", "&": "&", "#": "#", "_": "_",
    "textbackslash": "\\", "textasciicircum": "^", "quad": " ", "qquad": " ",
    "textbraceleft": "{", "textbraceright": "}", "lbrace": "{", "rbrace": "}",
    " ": " ", ",": " ", ";": " ", ":": " ", "!": "",
    "ne": "≠", "equiv": "≡", "ll": "≪", "gg": "≫", "lesssim": "≲", "gtrsim": "≳",
    "prec": "≺", "succ": "≻", "propto": "∝", "simeq": "≃", "cong": "≅", "subset": "⊂",
    "subseteq": "⊆", "supset": "⊃", "supseteq": "⊇", "cap": "∩", "cup": "∪",
    "setminus": "∖", "wedge": "∧", "land": "∧", "vee": "∨", "lor": "∨", "neg": "¬",
    "oplus": "⊕", "ominus": "⊖", "otimes": "⊗", "perp": "⊥", "top": "⊤", "int": "∫",
    "mapsto": "↦", "uparrow": "↑", "downarrow": "↓", "Leftrightarrow": "⇔",
    "iff": "⟺", "implies": "⟹", "langle": "⟨", "rangle": "⟩", "lceil": "⌈",
    "rceil": "⌉", "lfloor": "⌊", "rfloor": "⌋", "notin": "∉", "div": "÷",
}  # fmt: skip
# Operators written as words (\log n, n\log n): the word, set off from what it touches.
_OPERATOR_WORDS = frozenset(
    ["log", "ln", "lg", "exp", "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos",
     "arctan", "sinh", "cosh", "tanh", "max", "min", "sup", "inf", "lim", "liminf", "limsup",
     "arg", "det", "dim", "ker", "deg", "gcd", "lcm", "Pr", "mod", "bmod"]
)  # fmt: skip
# one pass, so what a command renders to is never read again as LaTeX
_FLAT_TOKEN = re.compile(
    r"\\(?P<name>[A-Za-z]+)(?P<space>\s?)|\\(?P<sign>[^A-Za-z\s])|(?P<raw>[{}$~^])"
)
_RAW = {"{": "", "}": "", "$": "", "^": "", "~": " "}
_SUBSCRIPT = re.compile(r"(?<!\\)_")
# x^3, x^{12}, H_2, p^{n+1} inside math: to Unicode superscripts and subscripts when every
# character of the script has one (SP$^3$ -> SP³; dropping the ^ read "SP3"), else flat.
_SCRIPT = re.compile(r"(?<!\\)([\^_])(?:\{([^{}\\]*)\}|([A-Za-z0-9+\-=()]))")
_SUPERSCRIPTS = dict(
    zip(
        "0123456789+-=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVW",
        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂ",
        strict=True,
    )
)
_SUBSCRIPTS = dict(
    zip("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True)
)
# Written characters that flattening would take for LaTeX: held as private-use stand-ins
# while paperwire.latex renders, put back at the end.
_WRITTEN = {"\\{": "{", "\\}": "}", "\\$": "$", "\\textasciitilde": "~"}
_HELD = re.compile(r"\\\\|\\[{}$]|\\textasciitilde(?![A-Za-z])")
_STAND_IN = {written: chr(0xE000 + i) for i, written in enumerate(_WRITTEN)}
_PUT_BACK = str.maketrans({_STAND_IN[w]: ch for w, ch in _WRITTEN.items()})
_LATEXY = re.compile(r"[\\${}~^]|--|``|''")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _flat_token(match: re.Match[str]) -> str:
    """What one command or raw character of _FLAT_TOKEN stands for.

    The space after a command only ends its name in LaTeX (``28\\times 28``: "28×28"); it
    is kept where it is written spacing: a space before the command too (``x \\le y``:
    "x ≤ y") or another command after it (``\\alpha \\in``: "α ∈"). An operator word
    is set off from letters and digits it touches (``n\\log n``: "n log n")."""
    if match.group("raw"):
        return _RAW[match.group("raw")]
    if match.group("sign"):
        return " " if match.group("sign") == "\\" else _FLAT_SYMBOLS.get(match.group("sign"), "")
    name, space, text = match.group("name"), match.group("space"), match.string
    start, end = match.start(), match.end()
    if name in _OPERATOR_WORDS:
        before = " " if start and text[start - 1].isalnum() else ""
        touching = text[end : end + 1]  # an ASCII letter or digit, not a script (\log₂ n)
        after = " " if space or (touching.isascii() and touching.isalnum()) else ""
        after = " " if text.startswith("\\", end) else after
        return before + name + after
    spaced = start == 0 or text[start - 1].isspace() or text.startswith("\\", end)
    # \textit, \mathcal, \emph …: the command goes, its braced text stays
    return _FLAT_SYMBOLS.get(name, "") + (space if spaced else "")


def _script(match: re.Match[str]) -> str:
    table = _SUPERSCRIPTS if match.group(1) == "^" else _SUBSCRIPTS
    body = match.group(2) if match.group(2) is not None else match.group(3)
    if body and all(ch in table for ch in body.replace(" ", "")):
        return "".join(table[ch] for ch in body.replace(" ", ""))
    return match.group(0)


# Layouts flattening would run together (\frac{1}{2} read "12"), written inline instead.
_LAYOUT = re.compile(r"\\(?P<name>[dtc]?frac|binom|sqrt|pmod)(?![A-Za-z])")
_BRACE = re.compile(r"[{}]")
_ONE_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[^{}$\s]")
_ROOT_INDEX = re.compile(r"\s*\[([^\[\]{}]*)\]")
# An argument that needs no parentheses around it: one word, number, command (with its
# braced argument) or parenthesised group, scripts after it; \frac{x^2}{2\pi} -> x^2/2\pi, \frac{a+b}{c} -> (a+b)/c.
_ATOM = re.compile(
    r"(?:[^\W_]|\.|\\[A-Za-z]+(?:\{[^{}]*\})?|\([^()]*\))+(?:[\^_](?:\{[^{}]*\}|[^\W_]))*"
)
MAX_LAYOUT_DEPTH = 8  # \frac{\frac{…}{…}}{…} deeper than this (hostile text) stays flat


class _Layouts:
    """Writes \\frac{a}{b}, \\binom{n}{k}, \\sqrt[n]{x} and \\pmod{p} of one text inline:
    a/b, (n choose k), ⁿ√x, (mod p). Its braces are paired once, so nested and unclosed
    ones cost time linear in the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.closes: dict[int, int] = {}  # where each paired { closes
        opened: list[int] = []
        for brace in _BRACE.finditer(text):
            if brace.group() == "{":
                opened.append(brace.start())
            elif opened:
                self.closes[opened.pop()] = brace.start()

    def inline(self, start: int, end: int, depth: int = 0) -> str:
        """text[start:end] with its layouts written inline."""
        text, out, at = self.text, [], start
        found = _LAYOUT.search(text, start, end) if depth <= MAX_LAYOUT_DEPTH else None
        while found is not None:
            written = self._written(found, end, depth + 1)
            if written is None:  # no arguments: flattened later as an unknown command
                out.append(text[at : found.end()])
                at = found.end()
            else:
                out += [text[at : found.start()], written[0]]
                at = written[1]
            found = _LAYOUT.search(text, at, end)
        out.append(text[at:end])
        return "".join(out)

    def _argument(self, at: int, end: int) -> tuple[int, int, int] | None:
        """The argument starting at text[at] (spaces skipped) before `end`: a braced
        group's inside or one token, as (start, stop, where it ends); None if none."""
        while at < end and self.text[at].isspace():
            at += 1
        close = self.closes.get(at, end) if self.text.startswith("{", at) else None
        if close is not None:
            return (at + 1, close, close + 1) if close < end else None
        token = _ONE_TOKEN.match(self.text, at, end)
        return (token.start(), token.end(), token.end()) if token else None

    def _grouped(self, start: int, stop: int, depth: int) -> str:
        inline = self.inline(start, stop, depth).strip()
        return inline if _ATOM.fullmatch(self.text[start:stop].strip()) else f"({inline})"

    def _written(self, found: re.Match[str], end: int, depth: int) -> tuple[str, int] | None:
        """The layout `found` written inline and where its arguments end (None: missing)."""
        name, at = found.group("name"), found.end()
        index = _ROOT_INDEX.match(self.text, at, end) if name == "sqrt" else None
        at = index.end() if index else at
        args: list[tuple[int, int]] = []
        for _ in range(1 if name in ("sqrt", "pmod") else 2):
            argument = self._argument(at, end)
            if argument is None:
                return None
            args.append(argument[:2])
            at = argument[2]
        if name == "sqrt":  # the index as a superscript, where _SCRIPT can write it so
            root = f"^{{{index.group(1)}}}" if index else ""
            return root + "√" + self._grouped(*args[0], depth), at
        inner = [self.inline(*arg, depth).strip() for arg in args]
        if name == "pmod":
            return f" (mod {inner[0]})", at
        if name == "binom":
            return f"({inner[0]} choose {inner[1]})", at
        fraction = f"{self._grouped(*args[0], depth)}/{self._grouped(*args[1], depth)}"
        glued = at < end and (self.text[at].isalnum() or self.text[at] == "(")
        return (f"({fraction})" if glued else fraction), at  # \frac12x: (1/2)x, not 1/2x


def _inline_layouts(text: str) -> str:
    return _Layouts(text).inline(0, len(text)) if "\\" in text else text


def latex_to_plain(text: str) -> str:
    """Plain Unicode for LaTeX-ish text (matching, exports, feeds): paperwire.latex's
    rendering, then math and unknown commands flattened too — maths symbols mapped,
    fractions and roots written inline (1/2, √x), spacing written around symbols kept,
    superscripts and subscripts written as Unicode ones where each character has one,
    commands dropped (their arguments kept), math dollars and grouping braces removed,
    whitespace collapsed."""
    if not text:
        return ""
    if not _LATEXY.search(text):  # most titles: nothing to render
        return " ".join(text.split())
    held = _HELD.sub(lambda m: _STAND_IN.get(m.group(0), m.group(0)), text)
    rendered, spans = read_latex(held)
    out: list[str] = []
    at = 0
    for start, end in spans:  # $x_1$ -> x₁, $x_{ij}$ -> xᵢⱼ, $x_{\alpha}$ -> xα
        math = _SCRIPT.sub(_script, _inline_layouts(rendered[start:end]))
        out += [_inline_layouts(rendered[at:start]), _SUBSCRIPT.sub("", math)]
        at = end
    out.append(_inline_layouts(rendered[at:]))
    flat = _FLAT_TOKEN.sub(_flat_token, "".join(out))
    return " ".join(flat.translate(_PUT_BACK).split())


def title_key(text: str) -> str:
    """The form titles are matched on: LaTeX rendered, accents and case folded,
    punctuation as spaces. 'M{\\"u}ller's {\\'E}tude' and 'Muller’s etude' agree."""
    plain = latex_to_plain(text)
    if not plain.isascii():
        plain = unicodedata.normalize("NFKD", plain)
        plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    folded = plain.casefold()
    folded = folded.replace("ø", "o").replace("ł", "l").replace("æ", "ae").replace("œ", "oe")
    return " ".join(re.sub(r"[\W_]+", " ", folded).split())


# -- Unicode/arXiv text -> BibTeX ----------------------------------------------------

_MATH = re.compile(r"(?<!\\)\$(?:\\.|[^$\\])+?(?<!\\)\$")
# One token of text: a LaTeX command we keep (\textit, \"o, \&, \{ …) or one character
# (a backslash that starts no such command is a character too).
_TOKEN = re.compile(r"\\(?:[A-Za-z]+|[`'^\"~=.&%$#_{} \\])|.", re.DOTALL)
# Written braces, as commands without a brace character in them: BibTeX counts every
# brace, backslash or not, so ``\}`` in a field closes it (the rest of a title became
# fields of its own: url, author …). Text mode and math mode spell them differently.
_TEXT_BRACE = {"{": "\\textbraceleft{}", "}": "\\textbraceright{}"}
_MATH_BRACE = {"\\{": "\\lbrace ", "\\}": "\\rbrace "}


def bibtex_balanced(text: str) -> bool:
    """Whether `text`'s braces balance the way BibTeX counts them: every ``{`` and ``}``,
    backslash before it or not. A field value that does not would end early (what
    follows read as further fields) or swallow the rest of the entry."""
    depth = 0
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    return depth == 0


def _balanced(text: str) -> bool:
    """Whether the grouping braces of LaTeX-ish `text` balance (``\\{``, ``\\}`` are
    written braces, not grouping)."""
    return bibtex_balanced("".join(t for t in _TOKEN.findall(text) if t in ("{", "}")))


def _escape_char(ch: str) -> str:
    if ch in "&%#_":
        return "\\" + ch
    if ch == "^":
        return "\\textasciicircum{}"
    if ch == "~":
        return "\\textasciitilde{}"
    if ch == "$":
        return "\\$"
    if ch == "\\":
        return "\\textbackslash{}"
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
    for token in _TOKEN.findall(text):
        if token in ("\\{", "\\}"):
            out.append(_TEXT_BRACE[token[1]])
        elif len(token) > 1:  # already LaTeX (\"o, \textit, \&): keep it
            out.append(token)
        elif token in "{}":
            out.append(token if braces_ok else _TEXT_BRACE[token])
        else:
            out.append(_escape_char(token))
    return "".join(out)


def _math_to_bibtex(body: str) -> str:
    if not _balanced(body):
        return _escape_text(body, False)  # $ written as \$: the math reads as text
    return "".join(_MATH_BRACE.get(t, t) for t in _TOKEN.findall(body))


def text_to_bibtex(text: str) -> str:
    """A field value safe inside BibTeX braces: ``$…$`` math and LaTeX commands already
    in the text are kept; bare specials (& % # _ ^ ~ \\ and stray $) are escaped;
    accented letters become accent commands. Grouping braces are kept when they
    balance; otherwise, and always for written ones (``\\{``), braces become
    ``\\textbraceleft{}`` / ``\\textbraceright{}`` (``\\lbrace`` / ``\\rbrace`` in math),
    so the value balances by BibTeX's own counting (:func:`bibtex_balanced`)."""
    text = _CONTROL.sub("", " ".join(text.split()))
    pieces: list[tuple[bool, str]] = []
    pos = 0
    for math in _MATH.finditer(text):
        pieces += [(False, text[pos : math.start()]), (True, math.group(0))]
        pos = math.end()
    pieces.append((False, text[pos:]))
    for braces_ok in (True, False):  # each piece balances alone when braces_ok is False
        out = "".join(
            _math_to_bibtex(piece) if is_math else _escape_text(piece, braces_ok)
            for is_math, piece in pieces
        )
        if bibtex_balanced(out):
            break
    return out
