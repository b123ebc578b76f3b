#!/usr/bin/env bash
# bench/augment_sweep.sh [--seeds N] — the augmentation sweep on the nDPI benchmark (see augment_sweep.py).
exec bash "$(dirname "${BASH_SOURCE[0]}")/run_as_postgres.sh" augment_sweep.py "$@"
