"""Rebuild `profiles.json` from the first (training) half of each UDHR text.

Usage: python -m silkroute.corpus.langid.train_profiles [DATA_DIR]   (default ../shared/data)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from silkroute.corpus.langid.profiles import PROFILE_PATH, build_profiles
from silkroute.corpus.langid.udhr import (
    UDHR_FILES,
    UDHR_OTHER_FILES,
    split_train_test,
    udhr_lines,
)


def main() -> None:
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("..") / "shared" / "data"
    texts: dict[str, str] = {}
    for label, code in {**UDHR_FILES, **UDHR_OTHER_FILES}.items():
        if not label.endswith("_Latn"):
            continue  # other scripts are routed by Unicode script before any detector runs
        train, _ = split_train_test(udhr_lines(data_dir, code))
        texts[label] = "\n".join(train)
    PROFILE_PATH.write_text(json.dumps(build_profiles(texts), separators=(",", ":")) + "\n")
    print(f"wrote {PROFILE_PATH} ({PROFILE_PATH.stat().st_size} bytes, {len(texts)} languages)")


if __name__ == "__main__":
    main()
