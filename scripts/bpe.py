"""A byte-level BPE tokenizer trainer that writes Hugging Face's tokenizer.json.

The tokenizer is GPT-2's scheme: text is split by GPT-2's pre-tokenizer pattern, each
piece's bytes are mapped to printable characters (the ByteLevel alphabet), and merges
learnt here join the most frequent adjacent pairs, most frequent first (ties broken by the
pair itself, so training is deterministic). The file has the 256 byte symbols, the merges'
symbols and the special tokens (bos, eos, pad, in that order, last), with a ByteLevel
pre-tokenizer (use_regex, no prefix space) and decoder: crucible's own BpeTokenizer
(common/tokenizer.cc) and HF tokenizers load it alike.

Only ASCII text is accepted: the pattern below is GPT-2's with \\p{L} and \\p{N} spelt for
ASCII (the standard library's `re` has no Unicode classes), which splits ASCII text exactly
as the full pattern does.
"""
import collections
import re

GPT2_ASCII = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def byte_alphabet():
    """GPT-2's reversible map from bytes to printable characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = list(bs)
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def train(texts, vocab_size, specials=("<|bos|>", "<|eos|>", "<|pad|>")):
    """tokenizer.json (a dict) with vocab_size tokens in all, specials included."""
    alphabet = byte_alphabet()
    words = collections.Counter()
    for text in texts:
        if not text.isascii():
            raise ValueError("the BPE trainer takes ASCII text only")
        for piece in GPT2_ASCII.findall(text):
            words[tuple(alphabet[b] for b in piece.encode())] += 1
    vocab = {alphabet[b]: i for i, b in enumerate(range(256))}
    merges = []
    words = {w: c for w, c in words.items()}
    while len(vocab) + len(specials) < vocab_size:
        pairs = collections.Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[best] < 2:
            break
        merges.append(best)
        joined = best[0] + best[1]
        vocab[joined] = len(vocab)
        words = {merge_word(w, best, joined): c for w, c in words.items()}
    added = []
    for name in specials:
        added.append({"id": len(vocab) + len(added), "content": name, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True})
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": None,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def merge_word(word, pair, joined):
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(joined)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)
