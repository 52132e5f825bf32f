#!/bin/sh
# The tutorials cannot rot: each tutorial program, run with --check, asserts
# the numbers its README and transcript show (document 002's staged and
# closed-form backward, document 004's statistics, the running-statistics
# rules, the gradient checks) and prints one TAP line per assertion. The rest
# of its transcript is not TAP and lands in the log.

BUILDDIR=${NNREF_BUILDDIR:-.}
exec "$BUILDDIR/tutorials/01-batchnorm/tutorial_batchnorm" --check
