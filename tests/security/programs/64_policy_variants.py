"""Attacks the restricted policy (issue 17, 1, variants of each class): a str subclass whose
startswith lies passed to getattr; an Enum built from a str subclass whose replace lies; pandas'
expression engine reached by name through DataFrame.apply("eval", ...) (it reads any attribute);
pandas.read_pickle and numpy.load(allow_pickle=True) on a pickle written with open() (its
reduce would run os.system).

Expected containment: run with "policy": "restricted". Checks run on exact-str copies
(PolicyViolation), pandas' engine refuses, unpickling is refused. Prints "CONTAINED: <route>";
"BREACH" if a route gave a class, ran the engine or unpickled.
"""
import enum

import numpy as np
import pandas as pd


class Name(str):
    def startswith(self, prefix):
        return False

    def replace(self, old, new):
        return "ok"


def str_subclass_getattr():
    print("BREACH: got", getattr(1, Name("__class__")))


def enum_str_subclass():
    enum.Enum("E", Name("__array_interface__ a"))
    print("BREACH: an Enum with __array_interface__")


def pandas_engine_by_name():
    frame = pd.DataFrame({"a": [1]})
    frame.apply("eval", args=("@x.__class__.__mro__",), local_dict={"x": 1}, engine="python")
    print("BREACH: pandas evaluated an expression")


# a pickle of os.system('echo ... > pickle_ran'), protocol 0, written as text
PAYLOAD = "cposix\nsystem\n(Vecho ran > pickle_ran\ntR."
with open("evil.pkl", "w") as fh:
    fh.write(PAYLOAD)


def pandas_read_pickle():
    pd.read_pickle("evil.pkl")


def numpy_load_pickle():
    np.load("evil.pkl", allow_pickle=True)


for name, attempt in (("getattr with a lying str", str_subclass_getattr),
                      ("Enum from a lying str", enum_str_subclass),
                      ("DataFrame.apply('eval')", pandas_engine_by_name),
                      ("pandas.read_pickle", pandas_read_pickle),
                      ("numpy.load(allow_pickle=True)", numpy_load_pickle)):
    try:
        attempt()
    except Exception as exc:
        kind = type(exc).__name__
        print(("CONTAINED: %s" if kind == "PolicyViolation" else "UNEXPECTED: %s: ") % name,
              kind, exc)
try:
    open("pickle_ran").close()
    print("BREACH: the pickle ran a command")
except FileNotFoundError:
    print("CONTAINED: no pickle ran")
