"""Tokenizer, tiny transformer and sampling: shapes, causality, determinism, KV cache."""
import pytest
import torch

from ppo_grpo_lab.llm import (
    EOS,
    PAD,
    CharTokenizer,
    GPTConfig,
    TinyGPT,
    completion_log_probs,
    completion_mask,
    generate,
)


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    tok = CharTokenizer()
    return TinyGPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=32, **kw)), tok


def test_tokenizer_round_trip_and_ids():
    tok = CharTokenizer()
    assert tok.encode("12+3=") == [1, 4, 5, 13, 6, 16]
    assert tok.decode(tok.encode("47+85=", eos=True) + [PAD]) == "47+85="
    assert tok.decode([4, 5, EOS, 6]) == "12"
    assert tok.vocab_size == 19


def test_tokenizer_errors():
    tok = CharTokenizer()
    with pytest.raises(ValueError, match="expected characters"):
        tok.encode("1/2")
    with pytest.raises(ValueError, match="equal length"):
        tok.encode_batch(["1+2=", "10+2="])


def test_config_validation():
    with pytest.raises(ValueError, match="multiple of n_head"):
        GPTConfig(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="positive integer"):
        GPTConfig(n_layer=0)


def test_causal_and_block_size():
    m, _ = _model()
    x = torch.randint(3, 19, (2, 8))
    y = x.clone()
    y[:, 5:] = 3
    a, _ = m(x)
    b, _ = m(y)
    assert a.shape == (2, 8, 19)
    torch.testing.assert_close(a[:, :5], b[:, :5])  # earlier positions cannot see later tokens
    assert not torch.allclose(a[:, 5:], b[:, 5:])
    with pytest.raises(ValueError, match="block_size"):
        m(torch.zeros(1, 17, dtype=torch.long))


def test_generate_deterministic_and_cache_equals_no_cache():
    m, tok = _model()
    prompts = tok.encode_batch(["12+34=", "56+78=", "90+11="] * 4)
    a, ma = generate(m, prompts, 6, temperature=1.0, generator=torch.Generator().manual_seed(3))
    b, mb = generate(m, prompts, 6, temperature=1.0, generator=torch.Generator().manual_seed(3))
    c, mc = generate(m, prompts, 6, temperature=1.0, generator=torch.Generator().manual_seed(3), use_cache=False)
    d, _ = generate(m, prompts, 6, temperature=1.0, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and torch.equal(a, c) and torch.equal(ma, mc)
    assert not torch.equal(a, d)  # a different seed gives different samples (random init: near uniform)
    g1, _ = generate(m, prompts, 6, temperature=0.0)
    g2, _ = generate(m, prompts, 6, temperature=0.0, use_cache=False)
    assert torch.equal(g1, g2)


def test_completion_mask_and_padding_after_eos():
    comps = torch.tensor([[4, EOS, 5, 6], [4, 5, 6, 7], [EOS, 4, 4, 4]])
    assert completion_mask(comps).tolist() == [[True, True, False, False], [True] * 4, [True, False, False, False]]
    m, tok = _model(seed=1)
    out, mask = generate(m, tok.encode_batch(["1+2="] * 64), 5, temperature=2.0,
                         generator=torch.Generator().manual_seed(0))
    assert out.shape == (64, 5) and mask.shape == (64, 5)
    assert bool((out[~mask] == PAD).all())  # only PAD after the end
    with pytest.raises(ValueError, match="temperature"):
        generate(m, tok.encode_batch(["1+2="]), 3, temperature=-1.0)


def test_completion_log_probs_match_step_by_step_logits():
    m, tok = _model(seed=2)
    prompts = tok.encode_batch(["12+34=", "56+78="])
    comps, _ = generate(m, prompts, 4, generator=torch.Generator().manual_seed(0))
    lp = completion_log_probs(m, prompts, comps)["log_probs"]
    seq = prompts
    for t in range(4):
        logits, _ = m(seq)
        want = torch.log_softmax(logits[:, -1], -1).gather(1, comps[:, t:t + 1]).squeeze(1)
        torch.testing.assert_close(lp[:, t], want, rtol=1e-5, atol=1e-5)
        seq = torch.cat([seq, comps[:, t:t + 1]], 1)


def test_value_head_shapes():
    torch.manual_seed(0)
    m = TinyGPT(GPTConfig(vocab_size=19, block_size=16, n_layer=1, n_head=2, n_embd=16), with_value_head=True)
    prompts = torch.ones(3, 4, dtype=torch.long)
    comps = torch.full((3, 5), 4)
    out = completion_log_probs(m, prompts, comps, with_entropy=True, with_values=True)
    assert out["values"].shape == (3, 5) and out["entropy"].shape == (3, 5)
    assert bool((out["entropy"] > 0).all()) and bool((out["log_probs"] < 0).all())
    with pytest.raises(ValueError, match="with_value_head"):
        TinyGPT(m.cfg).logits_and_values(prompts)


def test_memory_meters_count_bytes():
    from ppo_grpo_lab.llm import SavedTensorMeter, state_bytes

    lin = torch.nn.Linear(10, 20)  # 220 float32 parameters
    opt = torch.optim.Adam(lin.parameters())
    assert state_bytes([lin], [opt]) == 220 * 4
    x = torch.randn(8, 10)
    meter = SavedTensorMeter([lin])
    with meter.measure():
        loss = lin(x).pow(2).sum()  # saves x (8x10) and the output (8x20); the weight is excluded
    loss.backward()
    opt.step()
    assert meter.peak == (8 * 10 + 8 * 20) * 4
    assert state_bytes([lin], [opt]) == 220 * 4 * 4 + 2 * 4  # params, grads, two moments, two step counters


def test_kv_cache_misuse_is_refused_and_a_cached_prefix_extends_exactly():
    cfg = GPTConfig(vocab_size=CharTokenizer().vocab_size, block_size=8, n_layer=1, n_head=2, n_embd=16)
    model = TinyGPT(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)  # logits that vary, so that a wrong attention mask shows
    x = torch.tensor([[1, 4, 5]])
    _, past = model(x)
    more = torch.tensor([[13, 6, 16]])  # several new positions after a cache: the same as one pass over all
    torch.testing.assert_close(model(more, past=past, pos_offset=3)[0], model(torch.cat([x, more], 1))[0][:, 3:],
                               atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="pos_offset: expected the KV cache length 3, got 2"):
        model(x[:, :1], past=past, pos_offset=2)
    logits, _ = model(x[:, :1], past=past, pos_offset=3)
    assert logits.shape == (1, 1, cfg.vocab_size)


def test_shared_prefixes_give_the_same_answers_log_probs_and_gradients():
    """share_prefixes: each distinct prompt (and answer so far) runs once, its cache serving the rows that
    repeat it (GRPO's groups); the results equal the plain pass up to float rounding."""
    m, tok = _model(seed=3)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, 0.3)  # peaked, varied logits
    G = 4
    prompts = tok.encode_batch(["12+34=", "56+78=", "90+11="]).repeat_interleave(G, dim=0)  # (B·G, P)
    ended = 0
    for tau in (0.0, 0.7, 1.0, 2.0):
        draws = [generate(m, prompts, 5, tau, torch.Generator().manual_seed(7), share_prefixes=s) for s in (False, True)]
        assert torch.equal(draws[0][0], draws[1][0]) and torch.equal(draws[0][1], draws[1][1])
        ended += int((draws[0][1].sum(1) < 5).sum())
    assert ended > 0  # some answers end early: EOS, then PAD, are shared too
    comps = draws[0][0]
    assert len({tuple(r) for r in comps.tolist()}) > 6  # the G answers to a question differ
    outs, grads = [], []
    for share in (False, True):
        m.zero_grad()
        out = completion_log_probs(m, prompts, comps, with_entropy=True, share_prefixes=share)
        (out["log_probs"] * torch.linspace(-1, 1, comps.numel()).view_as(comps)).sum().backward()
        outs.append(out)
        grads.append([p.grad.clone() for p in m.parameters()])
    for key in ("log_probs", "entropy"):
        torch.testing.assert_close(outs[1][key], outs[0][key], atol=1e-5, rtol=1e-5)
    for a, b in zip(grads[1], grads[0]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    comps[1] = comps[0]  # a repeated answer, and rows in any order: the same values again
    order = torch.randperm(len(comps), generator=torch.Generator().manual_seed(0))
    for p, c in ((prompts, comps), (prompts[order], comps[order])):
        torch.testing.assert_close(completion_log_probs(m, p, c, share_prefixes=True)["log_probs"],
                                   completion_log_probs(m, p, c)["log_probs"], atol=1e-5, rtol=1e-5)


def test_shared_prefixes_refuse_what_they_cannot_share():
    m, tok = _model()
    prompts = tok.encode_batch(["12+34=", "56+78="])
    comps = torch.tensor([[6, 2], [7, 2]])
    with pytest.raises(ValueError, match="share_prefixes: expected a TinyGPT with prompt_mask=None"):
        generate(m, prompts, 3, prompt_mask=torch.ones_like(prompts, dtype=torch.bool), share_prefixes=True)
    with pytest.raises(ValueError, match="use_cache=False"):
        generate(m, prompts, 3, use_cache=False, share_prefixes=True)
    with pytest.raises(ValueError, match="got Linear"):
        completion_log_probs(torch.nn.Linear(2, 2), prompts, comps, share_prefixes=True)
    with pytest.raises(ValueError, match="with_values=False"):
        completion_log_probs(m, prompts, comps, with_values=True, share_prefixes=True)
