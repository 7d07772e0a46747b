#!/usr/bin/env python3
"""The reference side of the embedder benchmarks: the same texts as bench/embedder_bench.cpp
through sentence-transformers (PyTorch) on the same model folder, printed as "@@" rows that
bench/run puts beside engram's.

    python3 bench/embedder_reference.py [--quick]

Needs sentence-transformers and torch (e.g. the virtualenv tools/ uses for reference data:
ENGRAM_REFERENCE_PYTHON=/path/to/venv/bin/python3 bench/run). Without them it prints one line
saying it skipped, and exits 0.
"""
import os
import statistics
import sys
import time

WORDS = ["the", "cat", "sat", "on", "a", "mat", "and", "we",
         "can", "see", "how", "it", "works", "with", "my", "new"]  # as in embedder_bench.cpp


def text_of_tokens(tokens):
    return " ".join(WORDS[i % len(WORDS)] for i in range(max(tokens - 2, 0)))


def row(workload, n, mode, latencies_s, ops_s):
    ordered = sorted(latencies_s)
    p50 = statistics.median(ordered) * 1e6
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))] * 1e6
    print(f"@@\t{workload}\t{n}\t384\t{mode}\t{p50:.1f}\t{p99:.1f}\t{ops_s:.0f}\t-\t-\t-", flush=True)


def main():
    quick = "--quick" in sys.argv
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        print(f"reference: skipped ({e}); install sentence-transformers and torch to compare")
        return 0
    model_dir = os.path.join(os.environ.get("ENGRAM_MODEL_DIR", os.path.expanduser("~/.cache/engram/models")),
                             "all-MiniLM-L6-v2")
    if not os.path.isdir(model_dir):
        print(f"reference: skipped (no model at {model_dir}; run scripts/fetch-model.sh)")
        return 0
    model = SentenceTransformer(model_dir, device="cpu")
    version = f"torch {torch.__version__}"

    torch.set_num_threads(1)
    iterations = 20 if quick else 200
    for tokens in (8, 16, 32, 64, 128):
        text = text_of_tokens(tokens)
        model.encode([text])  # warm-up
        lat = []
        for _ in range(iterations):
            started = time.perf_counter()
            model.encode([text], batch_size=1, convert_to_numpy=True)
            lat.append(time.perf_counter() - started)
        row("E1 embed", tokens, f"reference {version} 1 thread", lat, len(lat) / sum(lat))

    rounds = 2 if quick else 10
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch in (1, 8, 32):
            texts = [text_of_tokens(16)] * batch
            model.encode(texts, batch_size=batch)
            lat = []
            for _ in range(rounds):
                started = time.perf_counter()
                model.encode(texts, batch_size=batch, convert_to_numpy=True)
                lat.append(time.perf_counter() - started)
            mode = f"reference {version} {threads} thread" + ("s" if threads > 1 else "")
            row("E2 embed_batch", batch, mode, lat, batch * len(lat) / sum(lat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
