"""Hyperparameters that were renamed, so one concept has one name in every agent.

An old name is refused with a message that names the new one (an old
script fails at once and says what to write), never silently ignored.
Constructors take `**renamed` only to catch these; `refuse_renamed` turns
anything in it into that error.
"""

from typing import Mapping

RENAMED = {
    # The count-based exploration bonus c / sqrt(N): NFQ, DQN, tabular, PPO.
    'exploration_bonus': 'count_bonus',
    # Linear decays are `<parameter>_decay_steps` (epsilon's is `decay_steps`).
    'anneal_steps': 'learning_rate_decay_steps',
    'bonus_anneal_steps': 'count_bonus_decay_steps',
    # The Q-network argument of NFQ and DQN (its name in older scripts).
    'q_network': 'network',
}


def refuse_renamed(owner: str, keywords: Mapping[str, object]) -> None:
    """Raises TypeError for any keyword in `keywords`: renamed ones name their new name."""
    for name in keywords:
        if name in RENAMED:
            raise TypeError(f'{owner}: {name} was renamed {RENAMED[name]}; '
                            f'pass {RENAMED[name]}={keywords[name]!r}')
    if keywords:
        raise TypeError(f'{owner} got unexpected keyword argument(s) '
                        f'{", ".join(map(repr, sorted(keywords)))}')
