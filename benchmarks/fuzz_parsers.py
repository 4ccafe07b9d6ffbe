"""Fuzz the source parsers for a while and print what was tried and what broke.

The targets, seeds (real recordings from ../shared/data/fixtures and tests/data) and the
rule of what counts as a failure live in tests/parser_fuzz.py, shared with the bounded
tests in tests/test_parsers_fuzz.py. A failure is any exception other than the parser's
documented rejection, a record that is neither a valid Paper nor a Rejected with a reason,
or an input taking longer than --hang seconds.

    python benchmarks/fuzz_parsers.py --seconds 60            # every target, a minute each
    python benchmarks/fuzz_parsers.py --target oai --engine atheris --seconds 300

Failing inputs are written to --out (one file per distinct failure) to replay with
`python benchmarks/fuzz_parsers.py --replay FILE --target NAME`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "src")]


def _instrumented_imports() -> contextlib.AbstractContextManager[object]:
    """With --engine atheris, paperwire's modules are imported with coverage hooks."""
    if "atheris" not in sys.argv:
        return contextlib.nullcontext()
    try:
        import atheris
    except ImportError:
        sys.exit("atheris is not installed: pip install atheris (optional; Linux, Python 3.11+)")
    return atheris.instrument_imports(include=["paperwire"])  # type: ignore[no-any-return]


with _instrumented_imports():
    from tests.parser_fuzz import (
        HANG_SECONDS,
        Target,
        mutate,
        mutate_json,
        run_one,
        signature,
        targets,
    )


class Hang(Exception):
    pass


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Hang


@dataclass
class Tally:
    inputs: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    failures: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # signature -> example


def one_input(target: Target, data: bytes, hang: float, tally: Tally) -> None:
    signal.setitimer(signal.ITIMER_REAL, hang)
    started = time.perf_counter()
    try:
        failure = run_one(target, data)
    except Hang:
        failure = f"hang: more than {hang:g} s"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    took = time.perf_counter() - started
    tally.inputs += 1
    tally.slowest = max(tally.slowest, took)
    if failure is not None:
        key = signature(failure)
        if key not in tally.failures or len(data) < len(tally.failures[key][1]):
            tally.failures[key] = (failure, data)  # keep the shortest example


def generator(target: Target, rng: random.Random, max_len: int) -> Callable[[], bytes]:
    def make() -> bytes:
        roll = rng.random()
        seed = rng.choice(target.seeds)
        if roll < 0.5:
            return mutate(seed, rng, rng.randrange(1, 10))[: max_len * 50]
        if roll < 0.85:
            return mutate_json(seed, rng, rng.randrange(1, 5))
        return rng.randbytes(rng.randrange(max_len))

    return make


def fuzz_random(target: Target, seconds: float, seed: int, hang: float, max_len: int) -> Tally:
    tally = Tally()
    make = generator(target, random.Random(seed), max_len)
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        one_input(target, make(), hang, tally)
    tally.seconds = time.perf_counter() - started
    return tally


def fuzz_atheris(target: Target, seconds: float, hang: float, corpus: Path) -> None:
    """Coverage-guided run with atheris (libFuzzer); stops at the first failure."""
    import atheris

    corpus.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(target.seeds):
        (corpus / f"seed{index}").write_bytes(seed)

    def test_one(data: bytes) -> None:
        failure = run_one(target, data)
        if failure is not None:
            raise RuntimeError(failure)

    args = [
        sys.argv[0],
        str(corpus),
        f"-max_total_time={int(seconds)}",
        f"-timeout={max(1, int(hang))}",
    ]
    args.append(f"-artifact_prefix={corpus.parent}/")
    atheris.Setup(args, test_one)
    atheris.Fuzz()


def report(results: dict[str, Tally], out: Path) -> int:
    print(f"{'target':<14} {'inputs':>9} {'inputs/s':>9} {'seconds':>8} {'slowest s':>9} failures")
    for name, tally in results.items():
        rate = tally.inputs / tally.seconds if tally.seconds else 0.0
        print(
            f"{name:<14} {tally.inputs:>9,} {rate:>9,.0f} {tally.seconds:>8.1f} "
            f"{tally.slowest:>9.3f} {len(tally.failures)}"
        )
    total = sum(len(t.failures) for t in results.values())
    inputs = sum(t.inputs for t in results.values())
    print(f"total: {inputs:,} inputs, {total} distinct failure(s)")
    for name, tally in results.items():
        for key, (failure, data) in sorted(tally.failures.items()):
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{name}-{hashlib.sha1(data).hexdigest()[:12]}.bin"
            path.write_bytes(data)
            print(f"  {name}: {failure}\n    shortest input ({len(data)} bytes): {path}")
            del key
    return 1 if total else 0


def main() -> int:
    all_targets = targets()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--target",
        action="append",
        choices=sorted(all_targets),
        help="fuzz only this target (repeatable); default: all",
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="time per target")
    parser.add_argument("--seed", type=int, default=0, help="random seed (runs repeat)")
    parser.add_argument(
        "--hang",
        type=float,
        default=HANG_SECONDS,
        help="seconds after which one input counts as a hang",
    )
    parser.add_argument("--max-len", type=int, default=4096, help="longest random input")
    parser.add_argument(
        "--engine",
        choices=["random", "atheris"],
        default="random",
        help="random mutation (default) or coverage-guided atheris",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("fuzz-failures"), help="folder for failing inputs"
    )
    parser.add_argument("--replay", type=Path, help="run one saved input and print the result")
    args = parser.parse_args()  # fmt: skip
    chosen = args.target or sorted(all_targets)
    if args.replay:
        print(run_one(all_targets[chosen[0]], args.replay.read_bytes()) or "handled")
        return 0
    if args.engine == "atheris":
        fuzz_atheris(all_targets[chosen[0]], args.seconds, args.hang, args.out / "corpus")
        return 0
    signal.signal(signal.SIGALRM, _alarm)  # (libFuzzer has its own SIGALRM timeout)
    results = {}
    for name in chosen:
        results[name] = fuzz_random(
            all_targets[name], args.seconds, args.seed, args.hang, args.max_len
        )
    return report(results, args.out)


if __name__ == "__main__":
    sys.exit(main())
