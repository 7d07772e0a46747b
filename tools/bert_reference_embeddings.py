#!/usr/bin/env python3
"""Reference embeddings for engram's BertEmbedder parity test.

Runs the reference implementation (sentence-transformers on PyTorch, an implementation
independent of engram) over every sentence of tests/data/bert/sentences.json with the model
directory given (all-MiniLM-L6-v2 from scripts/fetch-model.sh) and writes
tests/data/bert/embeddings.json:

  {"model": "all-MiniLM-L6-v2", "versions": {...}, "normalize": true,
   "items": [{"text": ..., "input_ids": [...], "embedding": [...]}, ...]}

input_ids are the reference tokenizer's ids (the model-level test feeds them to the encoder
directly, so encoder parity is checked independently of the tokenizer); embeddings are
written with 9 significant digits (float32 round-trips).

Run in a virtualenv, never as a dependency of the library:
  python3 -m venv /work/venv-ref
  /work/venv-ref/bin/pip install sentence-transformers torch
  /work/venv-ref/bin/python tools/bert_reference_embeddings.py \
      --model-dir "${ENGRAM_MODEL_DIR:-$HOME/.cache/engram/models}/all-MiniLM-L6-v2"

Versions used for the committed file: Python 3.11.7, torch 2.15.0, sentence-transformers 6.2.0,
transformers 5.24.0, tokenizers 0.23.3 (also recorded in the output's "versions").
"""
import argparse
import json
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main() -> int:
    default_dir = os.path.join(
        os.environ.get("ENGRAM_MODEL_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "engram", "models"),
        "all-MiniLM-L6-v2")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", default=default_dir)
    ap.add_argument("--sentences", default=os.path.join(ROOT, "tests", "data", "bert", "sentences.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "bert", "embeddings.json"))
    args = ap.parse_args()

    try:
        import sentence_transformers
        import tokenizers
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        print(f"bert_reference_embeddings: {e}. Install the reference in a virtualenv: "
              "python3 -m venv /work/venv-ref && /work/venv-ref/bin/pip install sentence-transformers torch",
              file=sys.stderr)
        return 2

    torch.set_num_threads(1)
    with open(args.sentences, encoding="utf-8") as f:
        sentences = json.load(f)
    model = SentenceTransformer(args.model_dir, device="cpu")
    # Normalization as the model's modules say (modules.json lists a Normalize module or not).
    normalize = any(type(m).__name__ == "Normalize" for m in model)
    with torch.no_grad():
        vectors = model.encode(sentences, batch_size=1, convert_to_numpy=True, normalize_embeddings=False)
    tokenizer = model.tokenizer
    max_len = model.max_seq_length
    items = []
    for text, vec in zip(sentences, vectors):
        ids = tokenizer(text, truncation=True, max_length=max_len)["input_ids"]
        items.append({"text": text, "input_ids": list(map(int, ids)),
                      "embedding": [float(f"{float(v):.9g}") for v in vec]})
    doc = {
        "model": os.path.basename(os.path.normpath(args.model_dir)),
        "generator": "tools/bert_reference_embeddings.py (sentence-transformers SentenceTransformer.encode, "
                     "batch_size 1, CPU, float32)",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "sentence-transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
        },
        "max_seq_length": max_len,
        "normalize": normalize,
        "dim": int(vectors.shape[1]),
        "items": items,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(items)} embeddings of dim {doc['dim']} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
