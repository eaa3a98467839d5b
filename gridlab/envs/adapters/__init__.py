"""Other environment APIs, both ways; each module imports its library, so none is loaded here.

    gymnasium.py         a Gymnasium env as a dm_env, and a dm_env as a Gymnasium env
    gymnasium_vector.py  Gymnasium vector environments both ways
    gymnasium_models.py  a toy-text env's `P` table (FrozenLake) as a TabularModel
    gymnasium_ids.py     the GridWorld tasks as Gymnasium ids (gridlab/simple-v0);
                         it loads Gymnasium only when Gymnasium is loaded anyway
    pettingzoo.py        a MultiAgentGridWorld as a PettingZoo ParallelEnv
    minigrid.py          MiniGrid's MiniGrid-* ids as tasks (symbolic, full or rgb views)
    minatar.py           MinAtar's MinAtar/<Game>-v1 ids as tasks, single and batched
"""
