"""The helper process that reads AEDAT4 with dv-processing (`python -m drivers.dvs.aedat4_helper`).

Requests: `info` (J frame: resolution, camera, streams), `triggers` (T frame: all of
them) and `read` (the T frame, then an E frame of EVENT_DTYPE per event batch). See drivers/helper_process.py.
"""
from __future__ import annotations

import json

# dv-processing's reader can return no batch forever on a damaged packet while it still
# says it is running; a whole file never gives that many empty reads in a row.
MAX_EMPTY_READS = 10_000


def _open(path: str):
    import dv_processing as dv
    return dv.io.MonoCameraRecording(path)


def handle(req: dict, send) -> None:
    from .dv_arrays import empty_triggers, store_events, trigger_array

    rec = _open(req["path"])
    if req["op"] == "info":
        has = rec.isEventStreamAvailable()
        res = [int(v) for v in rec.getEventResolution()] if has else [0, 0]
        send(b"J", json.dumps({"events": has, "resolution": res, "camera": rec.getCameraName(),
                               "streams": list(rec.getStreamNames())}).encode())
        return
    triggers = empty_triggers()
    if rec.isTriggerStreamAvailable():
        t0, t1 = rec.getTimeRange()
        got = rec.getTriggersTimeRange(int(t0), int(t1) + 1)
        triggers = trigger_array(got) if got is not None else triggers
    send(b"T", triggers)
    if req["op"] == "triggers":
        return
    empty = 0
    while True:
        store = rec.getNextEventBatch()
        if store is None:
            if not rec.isRunning():
                return
            empty += 1
            if empty > MAX_EMPTY_READS:
                raise RuntimeError(f"dv-processing returned no event batch {MAX_EMPTY_READS} times in a row "
                                   "and does not end")
            continue
        empty = 0
        send(b"E", store_events(store))


if __name__ == "__main__":
    from drivers.helper_process import serve
    serve(handle)
