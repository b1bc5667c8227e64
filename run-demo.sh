#!/usr/bin/env bash
# The main job: install what is missing, build, generate a fresh synthetic
# video from an unseen seed, caption and classify it with the bundled model
# (timed captions and labels, with a routing summary per clip), and write an
# MP4 with the captions burned in. Output goes to ./out/demo/.
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh run
scripts/build.sh >/dev/null
exec scripts/demo.sh "$@"
