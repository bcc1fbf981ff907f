"""Studio names in OCR text: normalise, fuzzy-match against Stash's studios, agree across frames.

Pure (no model, no Stash): the OCR analyzer stores each frame's text lines and boxes, and this
module turns them into at most one studio per scene, so a change of studios, aliases or
`studioMinScore` takes effect without reading a single frame again.

Why each rule exists:
- OCR misreads look-alike glyphs (0/O, 1/l/I, 5/S, rn/m, vv/w) and drops or invents punctuation,
  spaces and ".com": both sides are compared in a plain form (lower case, letters and digits only,
  `.com` and `www.` dropped) and in a *folded* form where look-alikes are one symbol; the better of
  the two scores counts.
- A watermark shares a frame with other text (timestamps, subtitles, a second logo line), so a name
  is compared with every run of up to as many consecutive words as the name has (never more: an
  extra word in the middle — "Blue Sky Harbor" — is a different name) and with the whole line (OCR
  glues words together, or splits one: each word beyond the name's costs a few points). A match
  must also cover every word of the name: "Silver Screen" is 96 % of "Silver Screen X" by letters
  but lacks a word. Names of 8+ letters are also found exactly inside one glued word
  ("visitbrazzerscom"; a fuzzy part of a glued word is too easy to find by chance).
- A name under 8 letters found among other words of a line must be read exactly: "Kinetic
  Arts" is another name, not a misread "Kinetix" (one letter off in 7 scores 85.7).
- A name with '&' is also known without it, as its web address writes it ("lumenco.com").
- Short names and names made only of generic words ("HD", "Films", "Reality") are where false
  positives come from: names under 3 letters are ignored, and short or generic names must match
  exactly and alone on their line (distinctive 4-5 letter names also among other words).
- One frame can misread; a watermark persists. A studio counts only when it is the best match in
  at least `min_frames` (2) different frames, and a tie between two studios gives nothing.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

MIN_NAME = 3          # letters; shorter names/aliases ("RK", "DP") are never matched
SHORT_NAME = 6        # names shorter than this must match exactly (after folding)
PARTIAL_NAME = 8      # names this long may be found inside glued text
PARTIAL_PENALTY = 3.0  # a whole-line or word-run match beats one found inside glued text
EXTRA_WORD_PENALTY = 6.0  # per word a line has beyond the name's

GENERIC_WORDS = frozenset("""
    hd uhd fhd 4k 8k 1080p 720p xxx porn sex video videos vids film films movie movies clip clips
    studio studios media productions production pictures entertainment network official exclusive
    premium free live tv com net www the and of new hot full scene scenes episode part chapter
    subscribe girls girl amateur amateurs reality real teen teens mature milf club originals
    original digital online presents present vr
""".split())

_FOLD_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"))
_FOLD_CHARS = str.maketrans({"0": "o", "1": "l", "i": "l", "5": "s", "8": "b", "6": "g",
                             "2": "z"})
_DOTCOM = re.compile(r"[.,·:]\s*(com|c0m|net|org|tv|xxx)\b")
_WWW = re.compile(r"\b(https?\s*:?\s*/*\s*)?w{2,3}\s*[.,·]\s*")


def words(text: str) -> list[str]:
    """Lower-case ASCII words: accents stripped, '&' -> 'and', www./.com removed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("&", " and ").replace("@", "a")
    text = _WWW.sub(" ", text)
    text = _DOTCOM.sub(" ", text)
    return re.findall(r"[a-z0-9]+", text)


def fold(compact: str) -> str:
    """One symbol per group of glyphs OCR confuses; applied to both sides of every comparison."""
    for a, b in _FOLD_PAIRS:
        compact = compact.replace(a, b)
    return compact.translate(_FOLD_CHARS)


@dataclass(frozen=True)
class Name:
    studio_id: str
    studio: str        # the studio's name (what the finding reports)
    text: str          # the name or alias this entry stands for
    plain: str         # words joined without spaces
    folded: str        # each word folded, joined
    plain_words: tuple[int, ...]    # length of each word in `plain`
    folded_words: tuple[int, ...]   # ... and in `folded`
    strict: bool       # short or generic: exact, alone on its line (or among words if 4-5 letters)
    generic: bool      # only generic words

    @property
    def n_words(self) -> int:
        return len(self.plain_words)


def _name(studio_id: str, studio: str, text: str) -> Name | None:
    ws = words(text)
    plain = "".join(ws)
    if len(plain) < MIN_NAME:
        return None
    folded = [fold(w) for w in ws]
    distinctive = "".join(w for w in ws if w not in GENERIC_WORDS)
    strict = len(plain) < SHORT_NAME or len(distinctive) < MIN_NAME
    return Name(studio_id, studio, text, plain, "".join(folded), tuple(len(w) for w in ws),
                tuple(len(w) for w in folded), strict, not distinctive)


def _spellings(texts: Iterable[str]) -> list[str]:
    """Each name or alias, plus the way a web address writes a name with '&': without it
    ("Lumen & Co" is lumenco.com; '&' cannot appear in a domain)."""
    out = []
    for text in texts:
        out.append(text)
        if "&" in text:
            out.append(" ".join(text.replace("&", " ").split()))
    return out


def covers_words(name: Name, piece: str, folded: bool) -> bool:
    """Whether the best alignment of `piece` with the name matches a fair part of every word of
    the name: "Silver Screen" is 96 % of "Silver Screen X" by letters, but lacks a whole word."""
    target, lengths = (name.folded, name.folded_words) if folded else (name.plain, name.plain_words)
    matched = [False] * len(target)
    for op in Indel.opcodes(fold(piece) if folded else piece, target):
        if op.tag == "equal":
            matched[op.dest_start:op.dest_end] = [True] * (op.dest_end - op.dest_start)
    pos = 0
    for length in lengths:
        hits = sum(matched[pos:pos + length])
        pos += length
        if hits < (length if length <= 2 else (length + 1) // 2):
            return False
    return True


@dataclass(frozen=True)
class Match:
    studio_id: str
    studio: str
    alias: str          # which name or alias matched
    text: str           # the OCR text it matched
    score: float        # 0..100
    coverage: float     # share of the OCR text the name accounts for (tie-break)


@dataclass
class StudioChoice:
    """The studio the frames agree on, with the evidence for it."""
    studio_id: str
    studio: str
    score: float                     # mean score over the frames that agree
    confidence: float                # 0..1: score and agreement among frames that saw a studio
    frames: list[tuple[float, float, Match]] = field(default_factory=list)  # (time, span, match)
    others: dict[str, int] = field(default_factory=dict)   # other studios seen: name -> frames


def _pieces(line: str) -> list[tuple[str, int]]:
    """(plain text, word count) for the whole line and every run of consecutive words."""
    ws = words(line)
    out = [("".join(ws), len(ws))]
    for size in range(1, len(ws)):
        out.extend(("".join(ws[i:i + size]), size) for i in range(len(ws) - size + 1))
    return [(p, n) for p, n in dict.fromkeys(out) if p]


class StudioMatcher:
    """Matches OCR lines against studios [{id, name, aliases}] from Stash.

    Built for libraries with thousands of studios: fuzzy names are scored against all names at
    once (rapidfuzz's C++ `process.extract`), exact-only names are dictionary lookups."""

    def __init__(self, studios: Iterable[Mapping[str, Any]], min_score: float = 85.0,
                 min_frames: int = 2):
        self.min_score = float(min_score)
        self.min_frames = max(1, int(min_frames))
        self.names: list[Name] = []
        for s in studios:
            for text in dict.fromkeys(_spellings([s.get("name") or "", *(s.get("aliases") or [])])):
                entry = _name(str(s["id"]), s.get("name") or text, text)
                if entry is not None:
                    self.names.append(entry)
        self.fuzzy = [n for n in self.names if not n.strict]
        self._choices = {False: [n.plain for n in self.fuzzy], True: [n.folded for n in self.fuzzy]}
        self.long = [n for n in self.fuzzy if len(n.plain) >= PARTIAL_NAME]
        self.exact: dict[str, list[Name]] = {}
        for n in self.names:
            if n.strict:
                for key in {n.plain, n.folded}:
                    self.exact.setdefault(key, []).append(n)

    def _line_scores(self, line: str) -> dict[Name, float]:
        pieces = _pieces(line)
        if not pieces:
            return {}
        plain, total = pieces[0]
        scores: dict[Name, float] = {}

        def offer(name: Name, score: float) -> None:
            if score >= self.min_score and score > scores.get(name, -1.0):
                scores[name] = score

        # short and generic names: exactly, alone on the line; 4-5 letter distinctive ones also
        # as a run of words ("Moxie HD", "(c) Moxie")
        for key in {plain, fold(plain)}:
            for name in self.exact.get(key, ()):
                offer(name, 100.0)
        for piece, count in pieces[1:]:
            for key in {piece, fold(piece)}:
                for name in self.exact.get(key, ()):
                    if (count == name.n_words and not name.generic
                            and len(name.plain) >= SHORT_NAME - 2):
                        offer(name, 100.0)
        # the rest: fuzzy, against the whole line and runs of up to the name's word count
        for piece, count in pieces:
            for variant, folded in ((piece, False), (fold(piece), True)):
                for _, score, i in process.extract(variant, self._choices[folded], scorer=fuzz.ratio,
                                                   score_cutoff=self.min_score, limit=None):
                    name = self.fuzzy[i]
                    if count > name.n_words and count != total:
                        continue
                    if count != total and score < 100.0 and len(name.plain) < PARTIAL_NAME:
                        continue   # "Kinetic Arts": a short name nearly read among other words
                    # the whole line may have more words than the name when OCR split one
                    # ("Har bor"), but each extra word also hints at another text
                    score -= EXTRA_WORD_PENALTY * max(0, count - name.n_words)
                    if score >= self.min_score and covers_words(name, piece, folded):
                        offer(name, score)
        # long names exactly inside one glued word ("visitbrazzerscom"); never a fuzzy part of
        # one ("silverscreenc" in "silverscreenclassics"): that is how false positives are made
        for piece, count in pieces:
            if count != 1:
                continue
            folded_piece = fold(piece)
            for name in self.long:
                if len(piece) > len(name.plain) and (name.plain in piece
                                                     or name.folded in folded_piece):
                    offer(name, 100.0 - PARTIAL_PENALTY)
        return scores

    def match_lines(self, lines: Sequence[str]) -> list[Match]:
        """Every studio scoring at least min_score on some line, best first (one per studio)."""
        best: dict[str, Match] = {}
        for line in lines:
            plain = "".join(words(line))
            for name, score in self._line_scores(line).items():
                match = Match(name.studio_id, name.studio, name.text, line, round(score, 2),
                              min(1.0, len(name.plain) / max(len(plain), 1)))
                current = best.get(name.studio_id)
                if current is None or _rank(match) > _rank(current):
                    best[name.studio_id] = match
        return sorted(best.values(), key=_rank, reverse=True)

    def best_in_frame(self, lines: Sequence[str]) -> Match | None:
        matches = self.match_lines(lines)
        return matches[0] if matches else None

    def choose_studio(self, frames: Sequence[tuple[float, float, Sequence[str]]]
                      ) -> StudioChoice | None:
        """frames: (time, span, text lines). The studio most frames agree on, or None."""
        votes: dict[str, list[tuple[float, float, Match]]] = {}
        for time, span, lines in frames:
            match = self.best_in_frame(lines)
            if match is not None:
                votes.setdefault(match.studio_id, []).append((time, span, match))
        if not votes:
            return None
        ranked = sorted(votes.values(), key=lambda v: (len(v), _mean(v)), reverse=True)
        top = ranked[0]
        if len(top) < self.min_frames:
            return None
        if len(ranked) > 1 and len(ranked[1]) == len(top) and abs(_mean(ranked[1]) - _mean(top)) < 1.0:
            return None   # two studios equally supported: say nothing rather than guess
        seen = sum(len(v) for v in votes.values())
        score = _mean(top)
        first = top[0][2]
        return StudioChoice(first.studio_id, first.studio, score,
                        confidence=round(score / 100.0 * len(top) / seen, 4), frames=top,
                        others={v[0][2].studio: len(v) for v in ranked[1:]})


def _rank(m: Match) -> tuple[float, float, int]:
    return (m.score, m.coverage, len(m.alias))


def _mean(votes: list[tuple[float, float, Match]]) -> float:
    return sum(m.score for _, _, m in votes) / len(votes)
