"""Hyperparameter search: log-scale spaces, random / jittered grid / coarse-to-fine / TPE
strategies, serial, local-process or Ray execution, records in SQLite that survive a crash.

    space = gn.tune.Space({"optimizer.lr": gn.tune.LogUniform(1e-4, 1e-1)})
    result = gn.tune.Search(gn.tune.ConfigObjective(cfg), space, "search-out", trials=20,
                            executor=gn.tune.ProcessExecutor(2)).run()
    print(result.table()); print(*result.warnings, sep="\\n")
"""
from .executors import ProcessExecutor, RayExecutor, SerialExecutor, make_executor
from .objective import ConfigObjective, set_path
from .search import Search, SearchResult, border_warnings, leaderboard
from .space import Choice, Fixed, IntUniform, LogInt, LogUniform, OneMinusLogUniform, Space, Uniform
from .store import TrialStore

__all__ = ["Space", "LogUniform", "Uniform", "IntUniform", "LogInt", "Choice", "OneMinusLogUniform", "Fixed",
           "Search", "SearchResult", "border_warnings", "leaderboard", "ConfigObjective", "set_path",
           "SerialExecutor", "ProcessExecutor", "RayExecutor", "make_executor", "TrialStore"]
