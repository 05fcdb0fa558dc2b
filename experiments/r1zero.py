"""SFT on a mixture (few worked demos), then GRPO with an outcome reward; curves every `every` steps."""
import argparse, copy
from common import *
ap = argparse.ArgumentParser()
ap.add_argument("--task", default="add"); ap.add_argument("--frac", type=float, default=0.25)
ap.add_argument("--sft", type=int, default=600); ap.add_argument("--steps", type=int, default=60)
ap.add_argument("--every", type=int, default=10); ap.add_argument("--lr", type=float, default=2e-4)
ap.add_argument("--beta", type=float, default=0.02); ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--agg", default="grpo"); ap.add_argument("--fw", type=float, default=0.0)
ap.add_argument("--err", type=float, default=0.0); ap.add_argument("--bs", type=int, default=128)
ap.add_argument("--mu", type=int, default=1); ap.add_argument("--eh", type=float, default=None); ap.add_argument("--neval", type=int, default=200)
a = ap.parse_args()
task = make_task(a.task, a.frac, a.fw)
ev = task.eval_set(a.neval, seed=1234)
ref, c = sft_cached(task, a.task, a.frac, a.sft, a.seed, a.err)
r0 = evaluate(ref, task, ev, seed=a.seed)
print("SFT", c and f"wall {c.wall:.0f}s cpu {c.cpu:.0f}s", show(r0), flush=True)
wk = answers(ref, task, tok, ev, n=8, temperature=1.0, seed=a.seed)
w, k = wk["worked"], wk["correct"]
print("SFT sampled acc | worked", k[w].float().mean().item(), "| direct", k[~w].float().mean().item(), flush=True)
pol = copy.deepcopy(ref)
curve = [(0, r0)]; H = []
with Clock() as c:
    for i in range(a.steps // a.every):
        cfg = GRPOConfig(steps=a.every, batch_size=a.bs, group_size=8, mu=a.mu, beta=a.beta, lr=a.lr, temperature=1.0,
                         aggregation=a.agg, clip_eps_high=a.eh, seed=a.seed * 1000 + i, progress=False)
        h = train_grpo(pol, ref, task, tok, cfg)
        H.append(h)
        if a.every == a.steps: break
        g = answers(pol, task, tok, ev)
        st = answer_stats(g, ks=(1,))
        print(f"step {(i+1)*a.every:4d} acc {st['eval/accuracy']:.3f} worked {st['eval/worked_frac']:.3f} len {st['eval/length']:.2f} "
              f"| train reward {h.last('reward/mean'):.3f} len {h.last('completion/length'):.2f} kl {h.last('stats/kl_ref'):.4f} "
              f"zero_std {h.last('stats/zero_std_frac'):.2f} ent {h.last('stats/entropy'):.3f} t {c.__dict__.get('w') and time.perf_counter()-c.w:.0f}s", flush=True)
r1 = evaluate(pol, task, ev, seed=a.seed)
print("GRPO", f"wall {c.wall:.0f}s cpu {c.cpu:.0f}s", show(r1))
wrong0 = ~r0["_greedy_correct"]
print("on problems SFT greedy got wrong:", r1["_greedy_correct"][wrong0].float().mean().item(), "n", int(wrong0.sum()))

s = answers(pol, task, tok, ev, n=8, temperature=1.0, seed=a.seed)
k, L = s["correct"], s["length"]
import numpy as np
def mean_of(key):
    return float(np.mean([x for h in H for x in h.series(key)[1]])) if key in H[0].keys() else float("nan")
print(f"SUMMARY task={a.task} agg={a.agg} mu={a.mu} eh={a.eh} beta={a.beta} lr={a.lr} seed={a.seed} | acc {r0['greedy/accuracy']:.3f}->{r1['greedy/accuracy']:.3f} "
      f"worked {r0['greedy/worked_frac']:.3f}->{r1['greedy/worked_frac']:.3f} len {r0['greedy/length']:.2f}->{r1['greedy/length']:.2f} "
      f"pass1 {r0['sample/pass@1']:.3f}->{r1['sample/pass@1']:.3f} pass8 {r0['sample/pass@8']:.3f}->{r1['sample/pass@8']:.3f} "
      f"len_right {L[k].mean():.2f} len_wrong {L[~k].mean():.2f} ent_first {H[0].series('stats/entropy')[1][:5].mean():.3f} ent_last {H[-1].series('stats/entropy')[1][-5:].mean():.3f} "
      f"kl_last {H[-1].last('stats/kl_ref'):.3f} clip_frac {mean_of('stats/clip_frac'):.4f} zero_std_first {H[0].series('stats/zero_std_frac')[1][:5].mean():.2f} zero_std_last {H[-1].series('stats/zero_std_frac')[1][-5:].mean():.2f} grpo_wall {c.wall:.0f}s cpu {c.cpu:.0f}s")
