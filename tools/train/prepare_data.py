#!/usr/bin/env python3
"""Build the training corpus for the baton demo model from Debian-packaged text.

Sources (both installed by tools/train/setup-train.sh):
  * the King James Bible, dumped with `bible -f Gen1:1-Rev22:21` (package bible-kjv),
    one document per chapter, one verse per line, no verse numbers;
  * the fortune databases in /usr/share/games/fortunes (package fortunes), one document
    per fortune. The offensive databases live in a separate package (fortunes-off) and a
    separate folder; we never read them. A few inoffensive files are skipped too (see
    SKIPPED_FORTUNE_FILES).

A small share of chat-formatted documents (ChatML, built from training documents only) is
added so that the chat template shipped in the GGUF is something the model has seen.

Output (tools/train/work/, git-ignored):
  train.jsonl, val.jsonl   one JSON object per document: {"source", "text"}
  spm_input.txt            the training text, one line per text line, for spm_train
  data_stats.json          counts, for MODEL.md
"""
import argparse
import json
import random
import re
import subprocess
import unicodedata
from pathlib import Path

FORTUNE_DIR = Path("/usr/share/games/fortunes")
# ascii-art: pictures, not prose; translate-me: not English. ethnic and men-women are in
# Debian's inoffensive set, but jokes about groups of people make a poor default demo.
SKIPPED_FORTUNE_FILES = {"ascii-art", "translate-me", "ethnic", "men-women"}

KJV_BOOKS = [
    ("Ge", "Genesis"), ("Exo", "Exodus"), ("Lev", "Leviticus"), ("Num", "Numbers"),
    ("Deu", "Deuteronomy"), ("Josh", "Joshua"), ("Jdgs", "Judges"), ("Ruth", "Ruth"),
    ("1Sm", "1 Samuel"), ("2Sm", "2 Samuel"), ("1Ki", "1 Kings"), ("2Ki", "2 Kings"),
    ("1Chr", "1 Chronicles"), ("2Chr", "2 Chronicles"), ("Ezra", "Ezra"), ("Neh", "Nehemiah"),
    ("Est", "Esther"), ("Job", "Job"), ("Psa", "Psalms"), ("Prv", "Proverbs"),
    ("Eccl", "Ecclesiastes"), ("SSol", "Song of Solomon"), ("Isa", "Isaiah"),
    ("Jer", "Jeremiah"), ("Lam", "Lamentations"), ("Eze", "Ezekiel"), ("Dan", "Daniel"),
    ("Hos", "Hosea"), ("Joel", "Joel"), ("Amos", "Amos"), ("Obad", "Obadiah"),
    ("Jonah", "Jonah"), ("Mic", "Micah"), ("Nahum", "Nahum"), ("Hab", "Habakkuk"),
    ("Zep", "Zephaniah"), ("Hag", "Haggai"), ("Zec", "Zechariah"), ("Mal", "Malachi"),
    ("Mat", "Matthew"), ("Mark", "Mark"), ("Luke", "Luke"), ("John", "John"), ("Acts", "Acts"),
    ("Rom", "Romans"), ("1Cor", "1 Corinthians"), ("2Cor", "2 Corinthians"),
    ("Gal", "Galatians"), ("Eph", "Ephesians"), ("Phi", "Philippians"), ("Col", "Colossians"),
    ("1Th", "1 Thessalonians"), ("2Th", "2 Thessalonians"), ("1Tim", "1 Timothy"),
    ("2Tim", "2 Timothy"), ("Titus", "Titus"), ("Phmn", "Philemon"), ("Heb", "Hebrews"),
    ("Jas", "James"), ("1Pet", "1 Peter"), ("2Pet", "2 Peter"), ("1Jn", "1 John"),
    ("2Jn", "2 John"), ("3Jn", "3 John"), ("Jude", "Jude"), ("Rev", "Revelation"),
]
VERSE_LINE = re.compile(r"^([0-9]?[A-Za-z]+)(\d+):(\d+) (.*)$")

SYSTEM_PROMPTS = [
    "You are a helpful assistant.",
    "You are baton, a small language model trained on the King James Bible and fortune cookies.",
    "Answer briefly.",
]
FORTUNE_REQUESTS = [
    "Tell me a fortune.", "Give me a fortune cookie.", "Say something wise.",
    "Tell me something funny.", "What is my fortune today?", "Share a quotation.",
    "Tell me a joke.", "Cheer me up.", "Say something clever.",
]
TOPIC_REQUESTS = [
    "Tell me something about {topic}.", "Say something about {topic}.",
    "Give me a fortune about {topic}.", "What do people say about {topic}?",
]
TOPIC_NAMES = {
    "computers": "computers", "linux": "Linux", "linuxcookie": "Linux", "debian": "Debian",
    "education": "school", "food": "food", "law": "the law", "love": "love",
    "medicine": "medicine", "pets": "pets", "politics": "politics", "science": "science",
    "sports": "sports", "startrek": "Star Trek", "work": "work", "kids": "children",
    "literature": "books", "songs-poems": "poetry", "riddles": "riddles", "tao": "the Tao",
    "wisdom": "wisdom", "art": "art", "news": "the news", "drugs": "drinking",
    "people": "people", "perl": "Perl", "magic": "magic",
}
VERSE_REQUESTS = [
    "Read me a verse from {book}.", "Quote {book}.", "What does {book} say?",
    "Read me something from the Bible.", "Give me a Bible verse.",
    "Read me a verse.", "Quote scripture.", "Read {book} chapter {chapter}.",
]


def normalise(text: str) -> str:
    """NFC, no overstrikes or control characters, runs of blanks collapsed, lines stripped."""
    while "\b" in text:
        text = re.sub(r"[^\b]?\x08", "", text, count=0)
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch if ch == "\n" or unicodedata.category(ch)[0] != "C" else " " for ch in text)
    lines = [re.sub(r"\s+", " ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def read_kjv() -> list[dict]:
    """One document per chapter: verses one per line."""
    names = dict(KJV_BOOKS)
    dump = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True,
                          capture_output=True, text=True).stdout
    chapters: dict[tuple[str, int], list[str]] = {}
    order: list[tuple[str, int]] = []
    for line in dump.splitlines():
        match = VERSE_LINE.match(line)
        if not match:
            if line.strip():
                raise ValueError(f"unexpected line in the bible dump: {line[:80]!r}")
            continue
        book, chapter, _verse, text = match.groups()
        if book not in names:
            raise ValueError(f"unknown book abbreviation {book!r}")
        key = (book, int(chapter))
        if key not in chapters:
            chapters[key] = []
            order.append(key)
        chapters[key].append(normalise(text))
    return [{"source": "kjv", "book": names[b], "chapter": c, "text": "\n".join(chapters[(b, c)])}
            for b, c in order]


def read_fortunes() -> list[dict]:
    docs = []
    for path in sorted(FORTUNE_DIR.iterdir()):
        if path.suffix in (".dat", ".u8") or not path.is_file() or path.name in SKIPPED_FORTUNE_FILES:
            continue
        raw = path.read_bytes().decode("utf-8", errors="replace")
        for entry in re.split(r"^%\s*$", raw, flags=re.MULTILINE):
            text = normalise(entry)
            if len(text) >= 8:
                docs.append({"source": "fortune", "file": path.name, "text": text})
    return docs


def chatml(messages: list[tuple[str, str]]) -> str:
    return "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in messages)


def make_chat_docs(train_docs: list[dict], count: int, rng: random.Random) -> list[dict]:
    """Requests answered by a fortune or a passage; the answer comes from training text."""
    fortunes = [d for d in train_docs if d["source"] == "fortune" and len(d["text"]) <= 600]
    chapters = [d for d in train_docs if d["source"] == "kjv"]
    docs = []
    for _ in range(count):
        messages = []
        if rng.random() < 0.3:
            messages.append(("system", rng.choice(SYSTEM_PROMPTS)))
        if rng.random() < 0.5:
            doc = rng.choice(fortunes)
            topic = TOPIC_NAMES.get(doc["file"])
            if topic and rng.random() < 0.5:
                request = rng.choice(TOPIC_REQUESTS).format(topic=topic)
            else:
                request = rng.choice(FORTUNE_REQUESTS)
            answer = doc["text"]
        else:
            doc = rng.choice(chapters)
            verses = doc["text"].split("\n")
            start = rng.randrange(len(verses))
            request = rng.choice(VERSE_REQUESTS).format(book=doc["book"], chapter=doc["chapter"])
            answer = "\n".join(verses[start:start + rng.randint(1, 3)])
        messages += [("user", request), ("assistant", answer)]
        docs.append({"source": "chat", "text": chatml(messages)})
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "work")
    parser.add_argument("--val-fraction", type=float, default=0.02)
    parser.add_argument("--chat-docs", type=int, default=2500, help="ChatML documents to add")
    parser.add_argument("--seed", type=int, default=1611)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    docs = read_kjv() + read_fortunes()
    rng.shuffle(docs)
    n_val = max(1, round(len(docs) * args.val_fraction))
    val, train = docs[:n_val], docs[n_val:]
    train += make_chat_docs(train, args.chat_docs, rng)
    rng.shuffle(train)

    args.out.mkdir(parents=True, exist_ok=True)
    for name, split in (("train", train), ("val", val)):
        with open(args.out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for d in split:
                f.write(json.dumps({"source": d["source"], "text": d["text"]}, ensure_ascii=False) + "\n")
    with open(args.out / "spm_input.txt", "w", encoding="utf-8") as f:
        for d in train:
            for line in d["text"].split("\n"):
                if line:
                    f.write(line + "\n")

    def count(split, source):
        sel = [d for d in split if d["source"] == source]
        return {"documents": len(sel), "characters": sum(len(d["text"]) for d in sel)}
    stats = {split_name: {src: count(split, src) for src in ("kjv", "fortune", "chat")}
             for split_name, split in (("train", train), ("val", val))}
    stats["skipped_fortune_files"] = sorted(SKIPPED_FORTUNE_FILES)
    (args.out / "data_stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats, indent=2))


if __name__ == "__main__":
    main()
