"""digestbot: Slack digests of the hottest news.

The package follows the pipeline: `articles` and `index` read the feed, `selection` picks,
`compose` builds Block Kit, `deliver` posts to Slack with the `ledger` beside it; `pipeline`
wires one run; `schedule` and `slash` start runs; `config` is the input of all; `cli` is a shell.
"""

__version__ = "0.1.0"
