"""Seeded mutation fuzzing of every file layergraph reads, through every headless command.

Input kinds: ``documents`` (.lgraph JSON), ``weights`` (.npz beside a document), ``data`` (.npz/.csv
for ``train``, .npz for ``predict``) and ``archives`` (.keras for ``import``).  Seeds come from the
bundled examples and small Keras models saved in a set-up step (``seeds.py``); ``mutate.py`` derives
mutants; ``forkserver.py`` runs each command in a child forked from one process that imported the
engine once, and ``campaign.py`` checks the contract (``checks.py``) and counts.

CI runs a slice of about a minute (``tests/fuzz/test_fuzz_slice.py``); the long campaign is
``python -m tests.fuzz --n 10000 --budget 60``.
"""
