#!/usr/bin/python3
"""Deterministic labeled PL sequences for bench/fidelity_bench.sh: `fidelity_gen.py ROWS SEED [NOISE]`
prints ROWS lines `label<TAB>{v1,...}` (a PostgreSQL array literal) over 30 classes.

Each class has its own profile, fixed by the class index (not by SEED): a length distribution
(1..10 values, 5 % empty sequences), a vocabulary of 20-400 signed payload lengths drawn from
MTU-like sizes (small control messages, 1460/1448 full segments, a few large GSO sizes), Zipf-like
value frequencies, and a direction pattern (mostly alternating).  SEED changes only which rows
are drawn, so two seeds give two samples of the same traffic, as a good generator would; class
sizes are Zipf-like too (the largest class ~10x the smallest).
"""
import random
import sys

N_CLASSES = 30


def profile(c):
    rnd = random.Random(1000 + c)
    vocab_size = rnd.randint(20, 400)
    sizes = ([rnd.randint(1, 120) for _ in range(vocab_size // 2)] +
             [rnd.randint(120, 1400) for _ in range(vocab_size // 3)] +
             [1460, 1448, 1200, 2920, 17520][: max(1, vocab_size - vocab_size // 2 - vocab_size // 3)])
    weights = [1.0 / (i + 1) for i in range(len(sizes))]
    lengths = list(range(0, 11))
    len_weights = [0.05] + [rnd.random() + (0.6 if l == 1 else 0) for l in range(1, 11)]
    return sizes, weights, lengths, len_weights, rnd.random() * 0.3


def main():
    rows, seed = int(sys.argv[1]), int(sys.argv[2])
    noise = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    rnd = random.Random(seed)
    profiles = [profile(c) for c in range(N_CLASSES)]
    class_weights = [1.0 / (1 + c * 0.3) for c in range(N_CLASSES)]
    out = sys.stdout
    for _ in range(rows):
        c = rnd.choices(range(N_CLASSES), class_weights)[0]
        sizes, weights, lengths, len_weights, flip = profiles[c]
        if noise > 0 and rnd.random() < noise:
            seq = [rnd.choice((-1, 1)) * rnd.randint(1, 1500) for _ in range(rnd.randint(1, 10))]
        else:
            n = rnd.choices(lengths, len_weights)[0]
            vals = rnd.choices(sizes, weights, k=n)
            sign, seq = 1, []
            for v in vals:
                seq.append(sign * v)
                if rnd.random() > flip:
                    sign = -sign
        out.write(f"class_{c:02d}\t{{{','.join(map(str, seq))}}}\n")


if __name__ == "__main__":
    main()
