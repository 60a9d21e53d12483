"""Step 1, where articles come from: sources, each a folder of article files refreshed on demand.

A source is a folder on disk (`folder`), a Smartable feed's git repository (`git`), or an RSS or
Atom feed (`feed`). Each keeps its copies under the cache folder; a run reads one complete copy
of each source from start to end (`snapshots`), and `refresh` brings a stale copy up to date
before a run, once per host however many runs ask at once.
"""
