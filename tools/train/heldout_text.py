#!/usr/bin/env python3
"""Write the held-out documents as one text file for `baton model perplexity --special`.

Reads work/val.jsonl (written by prepare_data.py) and writes work/heldout.txt: every
document as <s>text</s>, back to back. Tokenised with control tokens parsed and no BOS
added, that is exactly the stream train.py evaluated the shipped model on (BOS, the
document's pieces, EOS, per document: 34,766 tokens, the held-out perplexity in MODEL.md).

Usage: python3 heldout_text.py [--work work]
"""
import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / "work")
    args = parser.parse_args()
    out = args.work / "heldout.txt"
    with open(args.work / "val.jsonl", encoding="utf-8") as f, open(out, "w", encoding="utf-8") as w:
        for line in f:
            w.write("<s>" + json.loads(line)["text"] + "</s>")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
