#!/usr/bin/env python3
"""A storm of signed Meta status webhooks against an Odoo server, from a process
of its own (fault test 4).

    python3 tests/fault/storm.py PLAN.json RESULT.json

``PLAN.json``: ``{"url", "secret", "concurrency", "deadline", "retries",
"requests": [[status item, …], …]}`` — one signed POST per request, in the
order given, by ``concurrency`` threads (keep-alive sessions); a delivery not
answered 200 is tried again after 1 s, up to ``retries`` times, as Meta does.
Bounded: exactly the requests of the plan, and nothing is sent after
``deadline`` seconds (the result says how many were left). ``RESULT.json``:
``{"answers": {final HTTP status: requests}, "first_answers": {HTTP status of
the first attempt: requests}, "sent", "left", "seconds"}`` (status 0: no
answer).
"""

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from fake_server import post_webhook


def main(plan_path, result_path):
    with open(plan_path) as plan_file:
        plan = json.load(plan_file)
    started = time.monotonic()
    deadline = started + float(plan["deadline"])
    answers, first_answers, lock, local = {}, {}, threading.Lock(), threading.local()
    left = [0]

    def send(statuses):
        if time.monotonic() > deadline:
            with lock:
                left[0] += 1
            return
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        attempts = post_webhook(
            session, plan["url"], plan["secret"], statuses, timeout=120, retries=int(plan.get("retries", 0))
        )
        with lock:
            answers[attempts[-1]] = answers.get(attempts[-1], 0) + 1
            first_answers[attempts[0]] = first_answers.get(attempts[0], 0) + 1

    with ThreadPoolExecutor(max_workers=int(plan["concurrency"])) as pool:
        list(pool.map(send, plan["requests"]))
    result = {
        "answers": answers,
        "first_answers": first_answers,
        "sent": sum(answers.values()),
        "left": left[0],
        "seconds": round(time.monotonic() - started, 2),
    }
    with open(result_path, "w") as result_file:
        json.dump(result, result_file)


if __name__ == "__main__":
    main(*sys.argv[1:3])
