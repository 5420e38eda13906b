"""A reward for the multi-process RL test, imported by dotted path (`--reward_funcs reward_counter.counted_reward`).

Each call appends one line to `$REWARD_COUNTER_DIR/rank-<RANK>.jsonl` with the number of completions it scored, so the
test can check that every completion is scored once, by the rank that generated it. It returns 0, 1, 0, 1, ...: the
random test model scores 0 on the trace reward, which gives RLOO no advantage and hence no update.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def counted_reward(completions: list, **kwargs) -> list[float]:
    log = Path(os.environ["REWARD_COUNTER_DIR"]) / f"rank-{os.environ.get('RANK', '0')}.jsonl"
    with log.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"completions": len(completions), "answers": len(kwargs["answer"])}) + "\n")
    return [float(i % 2) for i in range(len(completions))]
