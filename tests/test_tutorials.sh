#!/bin/sh
# The tutorials cannot rot: each tutorial program, run with --check, asserts
# the numbers its README and transcript show (document 002's staged and
# closed-form backward, document 004's statistics, the running-statistics
# rules, the gradient checks; document 000's LayerNorm example, the special
# cases between the normalization layers, the cells that share statistics,
# the Fashion-MNIST statistics; document 000's pooling shapes, document 002's
# swapped max_pooling, Keras same against PyTorch padding, the tie rules,
# the windows read, a pooled Fashion-MNIST image; document 002's 3x3
# convolution result in both weight layouts and both kernels, its dropout
# example with both scalings, rate 1, the expected activation preserved) and prints one TAP line per
# assertion. The rest of its transcript is not TAP and lands in the log. Then
# the four tutorials that read Fashion-MNIST run without it (exit 77). All
# programs' lines are joined into one TAP stream, renumbered, with one plan
# at the end.

BUILDDIR=${NNREF_BUILDDIR:-.}
status=0
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
for prog in 01-batchnorm/tutorial_batchnorm 02-normalization/tutorial_normalization \
            03-pooling/tutorial_pooling 04-convolution-dropout/tutorial_conv_dropout 05-training/tutorial_training 06-batch-size/tutorial_batch_size; do
    "$BUILDDIR/tutorials/$prog" --check >>"$out" || status=1
done
# Without Fashion-MNIST (an empty directory in its place), a plain run of each
# tutorial that reads it must exit 77, so that make tutorials keeps the
# committed transcript and figures, with the install command on stderr and
# nothing of it in the transcript (stdout).
empty=$(mktemp -d) || exit 1
trap 'rm -f "$out"; rm -rf "$empty"' EXIT
for prog in 02-normalization/tutorial_normalization 03-pooling/tutorial_pooling 05-training/tutorial_training \
            06-batch-size/tutorial_batch_size; do
    rc=0
    NNREF_FASHION_MNIST_DIR=$empty "$BUILDDIR/tutorials/$prog" >"$empty/stdout" 2>"$empty/stderr" || rc=$?
    if [ "$rc" -eq 77 ] && grep -q 'sudo apt-get install dataset-fashion-mnist' "$empty/stderr" &&
       ! grep -q 'apt-get' "$empty/stdout"; then
        echo "ok 1 - ${prog#*/} without Fashion-MNIST: exit 77, the install command on stderr only" >>"$out"
    else
        echo "not ok 1 - ${prog#*/} without Fashion-MNIST: exit $rc (want 77), stderr: $(head -c 300 "$empty/stderr")" >>"$out"
        status=1
    fi
done
awk '
/^(ok|not ok) [0-9]+/ { n++; ok = ($1 == "ok"); sub(/^(ok|not ok) [0-9]+/, ""); print (ok ? "ok " : "not ok ") n $0; next }
/^1\.\.[0-9]+$/ { next }
{ print "# " $0 }
END { print "1.." n }' "$out"
exit $status
