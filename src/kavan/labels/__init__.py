"""Labels: GIFGIF-style pairwise votes, TrueSkill ratings from them, and the scores table a dataset trains on.

- ``ratings``: votes.csv and ratings.csv in and out, votes -> TrueSkill ratings -> 0..1 scores;
- ``trueskill_update``: the 1-vs-1 TrueSkill update with draws, as GIFGIF used it;
- ``pairing``: which (pair, emotion) to ask next, GIFGIF's random rounds or active sampling;
- ``scores_table``: scores.csv, one row per GIF and one column per emotion.

May import: kavan.core.
"""
