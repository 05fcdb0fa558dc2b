"""The actor-critic network: a policy π_θ(a|s) and a value function V_ψ(s), two separate MLPs.

Orthogonal initialisation (an implementation detail of PPO's reference code): every
weight matrix is orthogonal, biases are 0, with gain √2 in the hidden layers, 0.01 in
the policy head (the first policy is almost uniform, so exploration starts high) and
1 in the value head.

Discrete actions (``Discrete(A)``): the actor outputs A logits, π = softmax(logits).
Continuous actions (``Box`` of shape [D]): the actor outputs the mean μ(s) of a diagonal
Gaussian whose log standard deviation is a learned, state-independent vector
(initialised to 0); the log-probability of an action sums over the D dimensions.
Actions are not squashed; the environment clips them.
"""
from __future__ import annotations

import math

import torch
from gymnasium import spaces
from torch import Tensor, nn

from ..entropy import entropy as categorical_entropy

__all__ = ["ActorCritic", "check_spaces"]


def check_spaces(observation_space: spaces.Space, action_space: spaces.Space) -> None:
    """Raise ``ValueError`` naming the space if PPO here cannot handle it."""
    if not (isinstance(observation_space, spaces.Box) and len(observation_space.shape) == 1):
        raise ValueError(f"observation space: expected a flat Box of shape [obs_dim], got {observation_space}")
    if isinstance(action_space, spaces.Discrete):
        return
    if isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
        return
    raise ValueError(f"action space: expected Discrete(A) or a flat Box of shape [D], got {action_space}; "
                     "MultiDiscrete, MultiBinary, Dict and Tuple spaces are not supported")


def _layer(n_in: int, n_out: int, gain: float) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def _run(net: nn.Sequential, x: Tensor) -> Tensor:
    """``net(x)`` layer by layer through each layer's ``forward``: the same operations without
    ``nn.Module.__call__``'s per-layer dispatch (hooks are not run), which dominates at rollout sizes.
    """
    for layer in net:
        x = layer.forward(x)
    return x


def _mlp(n_in: int, hidden: tuple[int, ...], n_out: int, out_gain: float, activation: str) -> nn.Sequential:
    act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [_layer(n_in, h, math.sqrt(2)), act()]
        n_in = h
    layers.append(_layer(n_in, n_out, out_gain))
    return nn.Sequential(*layers)


def _categorical_sample(probs: Tensor, generator: torch.Generator | None) -> Tensor:
    """One draw per row of ``probs`` [B, A] → [B]: ``argmax_a p_a / q_a`` with q_a ~ Exp(1) (the
    Gumbel-max trick), which is how ``torch.multinomial(probs, 1)`` draws, so the same draws from the
    same generator (tested), without its validation of ``probs`` (host syncs; softmax output is valid).
    """
    q = torch.empty_like(probs).exponential_(1, generator=generator)
    return torch.argmax(probs / q, dim=-1)


class ActorCritic(nn.Module):
    """Separate actor and critic MLPs.

    Args:
        observation_space: single-env ``Box`` of shape [obs_dim].
        action_space: single-env ``Discrete(A)`` or ``Box`` of shape [D].
        hidden_sizes: hidden widths, e.g. (64, 64).
        activation: ``"tanh"`` or ``"relu"``.
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space,
                 hidden_sizes: tuple[int, ...] = (64, 64), activation: str = "tanh"):
        super().__init__()
        check_spaces(observation_space, action_space)
        obs_dim = int(observation_space.shape[0])
        self.discrete = isinstance(action_space, spaces.Discrete)
        n_out = int(action_space.n) if self.discrete else int(action_space.shape[0])
        self.critic = _mlp(obs_dim, hidden_sizes, 1, 1.0, activation)
        self.actor = _mlp(obs_dim, hidden_sizes, n_out, 0.01, activation)
        self.log_std = None if self.discrete else nn.Parameter(torch.zeros(n_out))

    def value(self, obs: Tensor) -> Tensor:
        """V_ψ(s): obs [B, obs_dim] → [B]."""
        return _run(self.critic, obs).squeeze(-1)

    def _log_prob(self, out: Tensor, actions: Tensor) -> Tensor:
        """Log π(a|s) [B] from the actor output (no host synchronisation: used at every env step)."""
        if self.discrete:
            log_p = torch.log_softmax(out, dim=-1)  # [B, A]
            return log_p.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
        log_std = self.log_std.expand_as(out)  # [B, D]
        z = (actions - out) / log_std.exp()
        return (-0.5 * z.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    def _entropy(self, out: Tensor) -> Tensor:
        """H[π](s) [B]: the core categorical entropy, or a diagonal Gaussian's Σ_d (½ + ½ log 2π + log σ_d)."""
        if self.discrete:
            return categorical_entropy(out)
        return (0.5 + 0.5 * math.log(2 * math.pi) + self.log_std).sum(-1).expand(out.shape[0])

    def evaluate(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """For the loss: ``(log π_θ(a|s) [B], V_ψ(s) [B], actor output)``.

        The actor output is the logits [B, A] (discrete: ``ppo_loss`` takes the entropy from them)
        or the mean μ [B, D] (continuous: pass ``entropy(μ)`` to ``ppo_loss``).
        """
        out = _run(self.actor, obs)
        return self._log_prob(out, actions), self.value(obs), out

    def entropy(self, out: Tensor) -> Tensor:
        """Per-sample entropy H[π](s) [B] from the actor output of :meth:`evaluate`."""
        return self._entropy(out)

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None,
            shard: tuple[int, int] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Sample a ~ π_θ(· | s) with ``generator``: returns ``(actions [B] or [B, D], log π [B], V [B])``.

        ``shard = (offset, total)``: these B rows are rows ``offset … offset+B−1`` of a batch of
        ``total`` (data-parallel training). The random numbers are drawn for all ``total`` rows, exactly
        as one process holding the whole batch would draw them, and only this shard's rows are used.
        """
        out = _run(self.actor, obs)
        full, rows = out, slice(None)
        if shard is not None:
            offset, total = shard
            rows = slice(offset, offset + out.shape[0])
            full = out.new_zeros((total, out.shape[-1]))  # other ranks' rows: placeholders, never used
            full[rows] = out
        if self.discrete:
            probs = torch.softmax(full, dim=-1)  # the draws do not depend on the placeholder rows' values
            actions = _categorical_sample(probs, generator)[rows]  # [B]
        else:
            noise = torch.randn(full.shape, generator=generator, device=out.device, dtype=out.dtype)[rows]
            actions = out + self.log_std.exp() * noise  # [B, D]
        return actions, self._log_prob(out, actions), self.value(obs)

    @staticmethod
    def env_actions(actions: Tensor, action_space: spaces.Space):
        """Actions as the env wants them (numpy for Gymnasium envs is done by the caller)."""
        if isinstance(action_space, spaces.Box):
            return actions.clamp(torch.as_tensor(action_space.low, device=actions.device),
                                 torch.as_tensor(action_space.high, device=actions.device))
        return actions
