#!/usr/bin/env python3
"""Reference token ids for engram's WordPiece tokenizer (tests/bert/wordpiece_test.cpp).

Versions used for the committed data: Python 3.11.7, tokenizers 0.23.3 (PyPI).
The output records the versions it was produced with.

Runs the model's tokenizer.json through Hugging Face `tokenizers` (a Rust implementation,
independent of engram's) and writes:
  tests/data/bert/tokens.json           for each sentence of tests/data/bert/sentences.json and each
                                        extra case below: the ids with truncation at 256
                                        (sentence_bert_config max_seq_length) and at 512, no padding.
  tests/data/bert/unicode_classes.json  how the reference's normalizer and pre-tokenizer treat every
                                        code point (dropped, whitespace, punctuation, CJK, nonspacing
                                        mark, lower-case mapping), as ranges.

Setup (a virtualenv, never a dependency of the library):
  python3 -m venv /work/venv-ref && /work/venv-ref/bin/pip install tokenizers==0.23.3
Usage:
  /work/venv-ref/bin/python tools/bert_reference_tokens.py [MODEL_DIR]
MODEL_DIR defaults to ${ENGRAM_MODEL_DIR:-~/.cache/engram/models}/all-MiniLM-L6-v2 (scripts/fetch-model.sh).
"""
import json
import os
import platform
import sys

import tokenizers
from tokenizers import Tokenizer, normalizers, pre_tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "bert")

# Cases the parity sentences do not cover: special tokens written in the text, the one
# multi-character lower-case mapping, canonical ordering of marks, Hangul decomposition, controls,
# format characters, unassigned code points, a word over 100 characters, an unmatched word.
EXTRA = [
    "[CLS] hello [SEP] world [MASK] [PAD] [UNK]",
    "x[MASK]y [CLS][SEP] [cls] [ MASK ] [MASK",
    "İstanbul İİ ıi",
    "a\u0316\u0301b e\u0301\u0323 \u1e0b\u0323 q\u0307\u0323",
    "한국어 텍스트 처리 ᄀ ㄱ",
    "tab\there\nnew\rline\x0bvt\x0cff\x85nel\u00a0nbsp\u2003em\u3000ideo",
    "zero\u200bwidth\u200djoiner\u00adsoft\ufeffbom\ufffdrepl",
    "unassigned\u0378x \U000e0001tag \U0010fffd private\ue000use",
    "a" * 101 + " " + "b" * 100 + " " + "é" * 101,
    "\u0e01\u0e02\u0e03\u0e04 \u1234\u1235 \U0001d400\U0001d401 \u2160\u2161",
    "Ǆ ǅ ǆ ß ẞ ﬁ Å Å K Ω",
    "\u0890\u0891 \u061d \u166d \u1734 \U00011938 \U000111c9 \u1c89 \ua7cb",
    "𠀀 𪜀 \U0002b820 \U0002b920 \U00030000 豈 丽",
    "   ",
    "\x00\x01\x02",
]


def versions():
    return {"python": platform.python_version(), "tokenizers": tokenizers.__version__}


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(path, ROOT))


def token_ids(model_dir, sentences):
    by_length = {}
    for max_length in (256, 512):
        tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        tok.no_padding()
        tok.enable_truncation(max_length=max_length)
        by_length[max_length] = [tok.encode(s).ids for s in sentences]
    return [{"text": s, "ids_256": by_length[256][i], "ids_512": by_length[512][i]} for i, s in enumerate(sentences)]


def ranges(cps):
    out = []
    for cp in cps:
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def unicode_classes():
    """Per code point, from "a" + c + "b": which words come out with and without lowercase/strip."""
    plain = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=False)
    lower = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()

    def words(normalizer, s):
        return [w for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(s))]

    classes = {"dropped": [], "whitespace": [], "isolated": [], "nonspacing_mark": []}
    lowercase = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        s = "a" + c + "b"
        w = words(plain, s)
        if w == ["ab"]:
            classes["dropped"].append(cp)
            continue
        if w == ["a", "b"]:
            classes["whitespace"].append(cp)
        elif w == ["a", c, "b"]:
            classes["isolated"].append(cp)  # punctuation or CJK
        if words(strip, s) == ["ab"]:
            classes["nonspacing_mark"].append(cp)
        lw = words(lower, s)
        if lw != w:
            lowercase["%X" % cp] = "".join(lw)[1:-1] if len(lw) == 1 else "|".join(lw)
    out = {name: ranges(cps) for name, cps in classes.items()}
    out["lowercase"] = lowercase
    return out


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get("ENGRAM_MODEL_DIR", os.path.expanduser("~/.cache/engram/models")), "all-MiniLM-L6-v2")
    with open(os.path.join(DATA, "sentences.json"), encoding="utf-8") as f:
        sentences = json.load(f)
    write_json(os.path.join(DATA, "tokens.json"), {
        "generator": "tools/bert_reference_tokens.py",
        "versions": versions(),
        "model": "all-MiniLM-L6-v2 (tokenizer.json)",
        "sentences": token_ids(model_dir, sentences),
        "extra": token_ids(model_dir, EXTRA),
    })
    classes = unicode_classes()
    classes = {"generator": "tools/bert_reference_tokens.py", "versions": versions(), **classes}
    write_json(os.path.join(DATA, "unicode_classes.json"), classes)


if __name__ == "__main__":
    main()
