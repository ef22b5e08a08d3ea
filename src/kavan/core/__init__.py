"""The foundation every other package stands on: errors, the 17 emotions and 4 quadrants, atomic file writes, a
file's SHA-256, data-problem records, and worker-process hygiene. (Fetching the model files kavan does not ship
is kavan.assets's, the layer above.)

- ``errors``: KavanError, the one error type a command prints as one line naming the file and the reason;
- ``emotions``: the GIFGIF emotion names, their circumplex quadrants, and the quadrant of an emotion vector;
- ``atomic``: write a file whole or not at all (temporary file + rename);
- ``tensorfile``: safetensors files written atomically, read with one error per refusal, and a file's SHA-256;
- ``overrides``: the one ``--set key=value`` parser;
- ``checks``: the settings dataclasses' range checks;
- ``shards``: ``--shard i/n`` of a file list for cluster jobs;
- ``yamlfile``: the one YAML reader of configs and ``--set`` values (``1e-4`` a float, as in YAML 1.2);
- ``issues``: the problems `kavan data check` reports, with their file and line;
- ``workers``: child processes that die with their parent and stop cleanly on a signal.

Each of these is used by two layers or more, the lowest of them just above core (``tensorfile`` by kavan.assets
and kavan.keypoints, ``overrides`` by kavan.config and kavan.synth, ``issues`` by kavan.labels and kavan.data,
``workers`` by kavan.keypoints and kavan.predict), which is why they sit here rather than in the package of one
user. What only one package uses lives in that package (the CSV cells of votes.csv and scores.csv in
kavan.labels.csv_cells).

May import: nothing of kavan (only the standard library and third-party packages).
"""
