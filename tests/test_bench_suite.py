"""benchmarks/bench_suite.py's bookkeeping (no training): old JSON results are relabelled for ``for_env``."""
import importlib.util
from pathlib import Path

SPEC = importlib.util.spec_from_file_location("bench_suite", Path(__file__).parents[1] / "benchmarks" / "bench_suite.py")
bench = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench)


def _run(ret: float, cpu: float) -> dict:
    """One run whose episodes end at CPU s cpu/4 (return −1100, step 500) and cpu (return ``ret``, step 2000)."""
    return {"episodes": [(cpu / 4, 500, -1100.0), (cpu, 2000, ret)], "cpu": cpu, "wall": cpu, "steps": 2000}


def _old_result(task: str) -> dict:
    runs = {"sb3": _run(-900.0, 10.0), "ours": _run(-1200.0, 2.0), "ours-sample": _run(-800.0, 6.0)}
    return {"task": task, "seed": 11, "budget": 2000, "random": -1250.0, "runs": runs,
            "compare": {n: bench.compare(runs[n], runs["sb3"], -1250.0) for n in ("ours", "ours-sample")}}


def test_old_continuous_results_keep_their_class_default_runs_as_ours_class():
    new = bench._upgrade(_old_result("Pendulum-v1"))  # for_env(Box) is not sample_efficient(): no "ours" run
    assert set(new["runs"]) == {"sb3", "ours-sample", "ours-class"} and new["runs"]["ours-class"]["cpu"] == 2.0
    assert new["compare"]["ours-class"]["ours_at_steps"] == -1150.0  # mean of −1100 and −1200
    assert bench._upgrade(new) is new  # already in the new form


def test_discrete_results_are_left_alone_and_rows_follow_the_runs():
    old = _old_result("CartPole-v1")
    assert bench._upgrade(old) is old
    rows = bench.summarise([bench._upgrade(_old_result("Pendulum-v1")), old])
    assert [(r["task"], r["run"]) for r in rows] == [("CartPole-v1", "ours"), ("CartPole-v1", "ours-sample"),
                                                      ("Pendulum-v1", "ours-sample"), ("Pendulum-v1", "ours-class")]
    pend = rows[-1]
    assert pend["cpu_s"] == {"sb3": 10.0, "ours-class": 2.0}
    # cut at 2 CPU s: SB3 has finished no episode (its first ends at 2.5 s), so it scores as the random policy
    assert pend["sb3_at_cpu"] == -1250.0 and pend["ours_at_cpu"] == -1150.0
