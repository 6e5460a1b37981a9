"""The ask/tell contract (tests/contracts/strategy.py) run on every strategy, plus
per-strategy behaviour and the registry."""

import json
import math

import numpy as np
import pytest
import torch
from contracts import CHOICES, TARGET, StrategyContract, drive, toy_reward

from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.space import get_space
from search.strategies import Strategy, get_strategy, list_strategies, register_strategy
from search.strategies import base as strategies_base
from search.strategies.evolution import RegularizedEvolution, mutate_one
from search.strategies.restricted import RestrictedResolutions, restricted_choices


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The controller's tensors are tiny: extra intra-op threads only contend on a busy box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TestRandomContract(StrategyContract):
    name = "random"


class TestEvolutionContract(StrategyContract):
    name = "evolution"
    options = {"population_size": 8, "sample_size": 3}


class TestPPOContract(StrategyContract):
    name = "rl"
    options = {"batch_size": 8, "hidden_size": 16, "epochs": 2}


# --- random search ----------------------------------------------------------------------------


def test_random_covers_every_choice_and_counts_tells():
    strategy = get_strategy("random", CHOICES, seed=0)
    asked = np.array(drive(strategy, 200))
    for i, n in enumerate(CHOICES):
        assert set(asked[:, i].tolist()) == set(range(n))
    assert strategy.num_told == 200


def test_random_does_not_learn():
    asked = drive(get_strategy("random", CHOICES, seed=0), 400)
    rewards = [toy_reward(t) for t in asked]
    # expected toy reward of uniform sampling: mean of 1/n over decisions
    expected = np.mean([1 / n for n in CHOICES])
    assert abs(np.mean(rewards[:200]) - expected) < 0.05
    assert abs(np.mean(rewards[200:]) - expected) < 0.05


# --- regularized evolution --------------------------------------------------------------------


def test_evolution_initial_population_then_aging():
    strategy = RegularizedEvolution(CHOICES, seed=0, population_size=5, sample_size=2)
    rewards = [1.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]  # the first member is the best
    for k, reward in enumerate(rewards):
        strategy.tell(strategy.ask(), reward)
        assert len(strategy.population) == min(k + 1, 5)
    # after 7 tells the two oldest (births 0 and 1) are gone, the best one included
    assert [m.birth for m in strategy.population] == [2, 3, 4, 5, 6]
    assert [m.reward for m in strategy.population] == [0.2, 0.3, 0.4, 0.5, 0.6]
    assert strategy.best.birth == 0 and strategy.best.reward == 1.0
    assert strategy.num_told == 7


def test_evolution_child_is_one_mutation_of_tournament_winner():
    # sample_size == population_size: the tournament always picks the population's best
    strategy = RegularizedEvolution(CHOICES, seed=1, population_size=6, sample_size=6)
    for k in range(6):
        strategy.tell(strategy.ask(), 0.1 * k)  # distinct rewards: the youngest is the best
    winner = strategy.population[-1].tokens
    for _ in range(20):
        child = strategy.ask()
        differences = [i for i, (a, b) in enumerate(zip(child, winner, strict=True)) if a != b]
        assert len(differences) == 1
        assert CHOICES[differences[0]] > 1  # never the single-choice decision
    # children told with a low reward do not displace the winner until it ages out
    for _ in range(5):
        strategy.tell(strategy.ask(), -1.0)
    assert strategy.population[0].tokens == winner


def test_mutate_one_always_changes_exactly_one_mutable_decision():
    rng = np.random.default_rng(0)
    parent = [0, 0, 0, 0, 0, 0]
    seen = {i: set() for i in range(len(CHOICES))}
    for _ in range(300):
        child = mutate_one(rng, parent, CHOICES)
        changed = [i for i in range(len(CHOICES)) if child[i] != parent[i]]
        assert len(changed) == 1
        seen[changed[0]].add(child[changed[0]])
    # every mutable decision gets mutated, to every other value
    assert seen == {0: {1, 2}, 1: set(), 2: {1, 2, 3, 4}, 3: {1}, 4: {1, 2, 3}, 5: {1, 2}}
    assert mutate_one(rng, [0, 0], [1, 1]) == [0, 0]  # nothing to mutate


def test_evolution_improves_toy_objective():
    strategy = get_strategy("evolution", CHOICES, seed=0, population_size=10, sample_size=4)
    rewards = [toy_reward(t) for t in drive(strategy, 200)]
    uniform_mean = np.mean([1 / n for n in CHOICES])  # what random search averages
    assert np.mean(rewards[-50:]) > uniform_mean + 0.2
    assert strategy.best.reward == 1.0 and strategy.best.tokens == TARGET


def test_evolution_rejects_sample_larger_than_population():
    with pytest.raises(LutnasError, match="sample_size"):
        get_strategy("evolution", CHOICES, population_size=4, sample_size=5)


# --- PPO controller ---------------------------------------------------------------------------


def test_ppo_increases_mean_reward_on_toy_objective():
    choices = [4] * 10
    target = [3, 1, 0, 2, 2, 3, 0, 1, 3, 2]

    def reward(tokens):
        return sum(t == g for t, g in zip(tokens, target, strict=True)) / len(target)

    strategy = get_strategy("rl", choices, seed=0, batch_size=16, hidden_size=32, lr=5e-3)
    rewards = [reward(t) for t in drive(strategy, 16 * 18, reward)]
    first, last = np.mean(rewards[:32]), np.mean(rewards[-32:])
    assert first < 0.35  # the initial policy is uniform: 1 / 4 expected
    assert last > first + 0.25
    stats = strategy.update_stats
    assert len(stats) == 18
    assert stats[-1]["entropy"] < stats[0]["entropy"]  # the policy got sharper


def test_ppo_first_batch_is_uniform_and_updates_per_batch():
    strategy = get_strategy("rl", CHOICES, seed=0, batch_size=4, hidden_size=8)
    uniform_entropy = sum(math.log(n) for n in CHOICES)
    batch = []
    for k in range(3):
        tokens = strategy.ask()
        strategy.tell(tokens, 0.1 * k)
        batch.append(0.1 * k)
    assert strategy.num_updates == 0 and strategy.baseline is None
    strategy.tell(strategy.ask(), 0.9)
    batch.append(0.9)
    assert strategy.num_updates == 1
    assert strategy.update_stats[0]["entropy"] == pytest.approx(uniform_entropy, rel=1e-5)
    # first baseline: the first batch's mean; then a moving average with decay 0.9
    assert strategy.baseline == pytest.approx(np.mean(batch))
    drive(strategy, 4, reward=lambda tokens: 0.2)
    assert strategy.baseline == pytest.approx(0.9 * np.mean(batch) + 0.1 * 0.2)


def test_ppo_late_tell_keeps_its_sampling_probability():
    strategy = get_strategy("rl", CHOICES, seed=0, batch_size=2, hidden_size=8)
    late = strategy.ask()  # sampled by the initial policy
    drive(strategy, 2)  # first update: the policy moves on
    assert abs(strategy.update_stats[0]["approx_kl_start"]) < 1e-5  # on-policy batch
    strategy.tell(late, 1.0)  # a slow evaluation reports back
    drive(strategy, 1)
    assert abs(strategy.update_stats[1]["approx_kl_start"]) > 1e-4  # off-policy sample seen


def test_ppo_seed_sets_initial_weights_regardless_of_global_rng():
    torch.manual_seed(123)
    first = get_strategy("rl", CHOICES, seed=0, hidden_size=8).state_dict()["state"]["policy"]
    torch.manual_seed(456)
    again = get_strategy("rl", CHOICES, seed=0, hidden_size=8).state_dict()["state"]["policy"]
    other = get_strategy("rl", CHOICES, seed=1, hidden_size=8).state_dict()["state"]["policy"]
    assert first == again
    assert first != other


def test_ppo_accepts_tokens_it_did_not_ask():
    strategy = get_strategy("rl", CHOICES, seed=0, batch_size=2, hidden_size=8)
    strategy.tell(list(TARGET), 1.0)
    strategy.tell([0] * len(CHOICES), 0.0)
    assert strategy.num_updates == 1


def test_ppo_leaves_global_torch_rng_alone():
    before = torch.random.get_rng_state()
    strategy = get_strategy("rl", CHOICES, seed=0, batch_size=2, hidden_size=8)
    drive(strategy, 4)
    assert torch.equal(before, torch.random.get_rng_state())


def test_ppo_runs_torch_at_one_thread_and_restores_the_callers_count(monkeypatch):
    callers = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        strategy = get_strategy("rl", CHOICES, seed=0, batch_size=2, hidden_size=8)
        assert torch.get_num_threads() == 2
        seen = []

        def spy(method):
            def wrapper(*args, **kwargs):
                seen.append((method.__name__, torch.get_num_threads()))
                return method(*args, **kwargs)

            return wrapper

        monkeypatch.setattr(strategy._policy, "sample", spy(strategy._policy.sample))
        monkeypatch.setattr(strategy, "_update", spy(strategy._update))
        for _ in range(4):
            tokens = strategy.ask()
            assert torch.get_num_threads() == 2
            strategy.tell(tokens, toy_reward(tokens))
            assert torch.get_num_threads() == 2
        strategy.tell([0] * len(CHOICES), 0.5)  # not asked: scored by the current policy
        assert torch.get_num_threads() == 2
        assert strategy.num_updates == 2
        assert seen == [("sample", 1), ("sample", 1), ("_update", 1)] * 2
    finally:
        torch.set_num_threads(callers)


@pytest.mark.parametrize(
    "options", [{"batch_size": 0}, {"lr": 0.0}, {"baseline_decay": 1.0}, {"clip_eps": -0.1}]
)
def test_ppo_rejects_bad_options(options):
    with pytest.raises(LutnasError, match="PPO"):
        get_strategy("rl", CHOICES, **options)


# --- registry ---------------------------------------------------------------------------------


def test_builtins_listed():
    assert {"random", "evolution", "rl", "ppo"} <= set(list_strategies())
    assert type(get_strategy("ppo", CHOICES)) is type(get_strategy("rl", CHOICES))


def test_unknown_strategy_names_the_known_ones():
    with pytest.raises(LutnasError, match="evolution"):
        get_strategy("annealing", CHOICES)


def test_unknown_option_is_a_clear_error():
    with pytest.raises(LutnasError, match="bad option for strategy 'random'.*'population_size'"):
        get_strategy("random", CHOICES, population_size=3)


@pytest.mark.parametrize("choices", [(), (3, 0), (2, 1.5)])
def test_bad_choices_rejected(choices):
    with pytest.raises(LutnasError):
        get_strategy("random", choices)


@pytest.fixture
def scratch_registry(monkeypatch):
    monkeypatch.setattr(strategies_base, "_STRATEGIES", strategies_base._STRATEGIES.copy())


def test_register_and_refuse_duplicates(scratch_registry):
    @register_strategy("test-constant")
    class Constant(Strategy):
        def ask(self):
            return [0] * len(self.choices)

        def tell(self, tokens, reward):
            self.check_tokens(tokens)

        def _state(self):
            return {}

        def _load_state(self, state):
            pass

    assert Constant.name == "test-constant"
    assert get_strategy("test-constant", CHOICES).ask() == [0] * len(CHOICES)
    with pytest.raises(LutnasError, match="already registered"):
        register_strategy("test-constant")(Constant)
    with pytest.raises(LutnasError, match="already registered"):
        register_strategy("evolution")(Constant)


def test_a_resolution_restricted_strategy_asks_only_those_resolutions_and_resumes():
    space = get_space("mnasnet")

    def build():
        inner = get_strategy("random", restricted_choices(space, (192, 224)), 3)
        return RestrictedResolutions(inner, space, (224, 192))

    strategy = build()
    assert list(strategy.choices) == space.choice_counts()
    assert strategy.options["resolutions"] == [192, 224] and strategy.name == "random"
    asked = [strategy.ask() for _ in range(20)]
    assert {Arch.from_tokens("mnasnet", t).resolution for t in asked} == {192, 224}
    for t in asked:
        strategy.tell(t, 0.5)
    with pytest.raises(LutnasError, match="resolution 160 is not searched"):
        strategy.tell([0, *asked[0][1:]], 0.5)
    again = build()
    again.load_state_dict(json.loads(json.dumps(strategy.state_dict())))
    assert [again.ask() for _ in range(5)] == [strategy.ask() for _ in range(5)]
