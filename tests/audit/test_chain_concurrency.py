"""Appends from concurrent units of work are serialised: no seq is taken twice, no entry lost,
and the chain still verifies (PostgreSQL needs the advisory lock for this; SQLite's write lock)."""

import threading

from custodes.actor import Actor
from custodes.audit import chain


def test_concurrent_appends_keep_one_unbroken_chain(container):
    errors, per_thread, threads = [], 15, 4

    def work(n):
        try:
            for i in range(per_thread):
                with container.uow(Actor.system(f"t{n}")) as uow:
                    uow.record("read", "subject", f"{n}-{i}")
                    uow.commit()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc)[:200])

    running = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join(timeout=120)
    assert errors == []
    with container.uow(Actor.system("test")) as uow:
        results = list(chain.verify(uow.session, container.audit_key))
    assert results == list(range(1, threads * per_thread + 1))
