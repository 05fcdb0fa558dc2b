set -x
export PYTHONPATH=/work/wt/r1 OMP_NUM_THREADS=1
PY=/work/main/.venv/bin/python
NL=1 $PY r1zero.py --task add4 --frac 0.3 --sft 1000 --steps 100 --every 10 --lr 2e-4 --beta 0.02 --seed 12 | grep SUMMARY
$PY cd_cont.py 12 150
for agg in grpo dr_grpo dapo; do NL=1 $PY r1zero.py --task add4 --frac 0.3 --sft 1000 --steps 100 --every 20 --lr 2e-4 --beta 0.02 --seed 0 --agg $agg | grep SUMMARY; done
NL=1 $PY r1zero.py --task add4 --frac 0.3 --sft 1000 --steps 100 --every 20 --lr 2e-4 --beta 0.02 --seed 0 --mu 2 | grep SUMMARY
NL=1 $PY r1zero.py --task add4 --frac 0.3 --sft 1000 --steps 100 --every 20 --lr 2e-4 --beta 0.02 --seed 0 --mu 2 --eh 0.28 | grep SUMMARY
for b in 0.0 0.1; do NL=1 $PY r1zero.py --task add4 --frac 0.3 --sft 1000 --steps 100 --every 20 --lr 2e-4 --beta $b --seed 0 | grep SUMMARY; done
