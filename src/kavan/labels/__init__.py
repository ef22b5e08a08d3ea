"""Labels: GIFGIF-style pairwise votes, TrueSkill ratings from them, and the scores table a dataset trains on.

- ``ratings``: votes.csv and ratings.csv in and out, votes -> TrueSkill ratings -> 0..1 scores;
- ``trueskill_update``: the 1-vs-1 TrueSkill update with draws, as GIFGIF used it;
- ``pairing``: which (pair, emotion) to ask next: GIFGIF's random rounds, active sampling or ASAP;
- ``ep_posterior``: the full posterior of one emotion's ratings over all its votes, by expectation propagation;
- ``asap``: ASAP's expected information gain on that posterior, one pair at a time or a batch by spanning tree;
- ``prior``: a model's predicted intensities (`kavan predict`'s JSON Lines) as the ratings' prior;
- ``scores_table``: scores.csv, one row per GIF and one column per emotion;
- ``csv_cells``: the text cells of votes.csv and scores.csv, safe to open in a spreadsheet.

May import: kavan.core.
"""
