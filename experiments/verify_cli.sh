#!/bin/bash
# usage: verify_cli.sh TASK "SEEDS" [extra CLI args]: the CLI with its defaults, held-out accuracy before -> after
task=$1; seeds=$2; shift 2
for s in $seeds; do
  d=$(mktemp -d)
  /usr/bin/time -f "  wall %e s, cpu %U+%S s" /work/main/.venv/bin/python -m ppo_grpo_lab grpo --task $task "$@" \
    --set seed=$s --set eval_every=25 --no-progress --out $d/run 2>&1 | grep -v "^wrote" | sed "s/^/$task seed $s: /"
  rm -rf $d
done
