"""CLIP's byte-pair tokenizer without torch: the search operation's text side must start in well
under a second, and `import open_clip` (torch, torchvision) alone costs several.

The vocabulary is open_clip's own file (bpe_simple_vocab_16e6.txt.gz), copied next to the exported
text tower when it is exported (text_onnx.py), and the export checks this tokenizer against
open_clip's on sample texts before anything is kept. Needs `ftfy` and `regex` (open_clip's own
dependencies) for the same text cleaning and word split.
"""
from __future__ import annotations

import gzip
import html
import re
from functools import lru_cache

import ftfy
import regex

MERGES = 49152 - 256 - 2      # the merges CLIP's vocabulary uses
SPECIAL = ("<start_of_text>", "<end_of_text>")


@lru_cache(maxsize=1)
def byte_alphabet() -> dict[int, str]:
    """Every byte as a printable character (so BPE works on text, never on raw bytes)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars = keep[:]
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(keep, map(chr, chars)))


def clean(text: str) -> str:
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return re.sub(r"\s+", " ", text).strip().lower()


class ClipBPE:
    def __init__(self, vocab_path: str, context_length: int = 77):
        with gzip.open(vocab_path) as fh:
            lines = fh.read().decode("utf-8").split("\n")[1:MERGES + 1]
        merges = [tuple(line.split()) for line in lines]
        alphabet = list(byte_alphabet().values())
        vocab = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in merges] + list(SPECIAL)
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.sot, self.eot = self.encoder[SPECIAL[0]], self.encoder[SPECIAL[1]]
        self.context_length = context_length
        self.split = regex.compile(r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|"
                                   r"[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", regex.IGNORECASE)
        self._cache: dict[str, list[str]] = {}

    def _bpe(self, token: str) -> list[str]:
        if token in self._cache:
            return self._cache[token]
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(a, b) for a, b in zip(word, word[1:])}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self._cache[token] = word
        return word

    def encode(self, text: str) -> list[int]:
        alphabet = byte_alphabet()
        ids: list[int] = []
        for token in self.split.findall(clean(text)):
            token = "".join(alphabet[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[piece] for piece in self._bpe(token))
        return ids

    def __call__(self, texts: list[str]):
        """(len(texts) x context_length) int64 token ids, truncated like open_clip."""
        import numpy as np  # noqa: PLC0415
        out: np.ndarray = np.zeros((len(texts), self.context_length), np.int64)
        for row, text in enumerate(texts):
            tokens = [self.sot] + self.encode(text) + [self.eot]
            if len(tokens) > self.context_length:
                tokens = tokens[:self.context_length]
                tokens[-1] = self.eot
            out[row, :len(tokens)] = tokens
        return out
