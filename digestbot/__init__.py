"""digestbot: Slack digests of the hottest news.

The package follows the pipeline: `articles` and `index` read the feed, `selection` picks,
`compose` builds Block Kit, `deliver` posts to Slack with the `ledger` beside it (its tables in
`store`, claim owners in `owners`); `pipeline` plans a run (`runs`), `sender` claims its
channels and `posting` posts each one. `bot`, the composition root, builds a `service` over
them and hands it to the ways of starting a run: the `scheduler` (with `trigger` and
`crontab`), the `slash` command behind the `frontdoor`, and the CLI; `status` tells where each
digest stands. `config` is the input of all; `cli` is a thin shell.
"""

__version__ = "0.1.0"
