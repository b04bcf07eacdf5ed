#!/usr/bin/env python3
"""The Python side of `cargo bench -p auth-hash --bench argon2`: same measurements, same JSON.

Run with the reference's environment:
    python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install tortoise-auth==0.6.0
    /tmp/refvenv/bin/python crates/auth-hash/benches/reference_argon2.py

Uses the reference's own hashers: pwdlib's Argon2Hasher (argon2-cffi) and BcryptHasher
(pyca/bcrypt) as configured by tortoise_auth, and tortoise_auth's PBKDF2Hasher (hashlib).
"""

import json
import os
import statistics
import time

from tortoise_auth.hashers.argon2 import default_hasher as argon2_hasher
from tortoise_auth.hashers.bcrypt import default_hasher as bcrypt_hasher
from tortoise_auth.hashers.pbkdf2 import PBKDF2Hasher

WARMUPS = 2
RUNS = int(os.environ.get("AUTH_HASH_BENCH_RUNS", "15"))
PASSWORD = "correct horse battery staple"


def measure(name, impl, params, f):
    for _ in range(WARMUPS):
        f()
    ms = []
    for _ in range(RUNS):
        start = time.perf_counter()
        f()
        ms.append((time.perf_counter() - start) * 1000.0)
    print(json.dumps({
        "bench": name,
        "impl": impl,
        "params": params,
        "median_ms": round(statistics.median(ms), 2),
        "p_min_ms": round(min(ms), 2),
        "runs": RUNS,
    }, separators=(",", ":")))


def main():
    argon2 = argon2_hasher(time_cost=3, memory_cost=65536, parallelism=4)
    measure("argon2id_hash", "python-argon2-cffi", "t=3,m=65536,p=4", lambda: argon2.hash(PASSWORD))
    encoded = argon2.hash(PASSWORD)
    measure("argon2id_verify", "python-argon2-cffi", "t=3,m=65536,p=4",
            lambda: argon2.verify(PASSWORD, encoded) or (_ for _ in ()).throw(AssertionError))

    bcrypt = bcrypt_hasher(rounds=12)
    bcrypt_hash = bcrypt.hash(PASSWORD)
    measure("bcrypt_verify", "python-bcrypt", "cost=12",
            lambda: bcrypt.verify(PASSWORD, bcrypt_hash) or (_ for _ in ()).throw(AssertionError))

    pbkdf2 = PBKDF2Hasher(iterations=600_000)
    pbkdf2_hash = pbkdf2.hash(PASSWORD)
    measure("pbkdf2_sha256_verify", "python-hashlib", "i=600000",
            lambda: pbkdf2.verify(PASSWORD, pbkdf2_hash) or (_ for _ in ()).throw(AssertionError))


if __name__ == "__main__":
    main()
