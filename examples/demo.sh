#!/usr/bin/env bash
# The dataset walkthrough; replaced by the tune-and-compare recipe once that exists.
set -euo pipefail
echo "demo: coming together"
