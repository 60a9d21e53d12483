"""The dashboard's Block Kit renderer: real digests, every mrkdwn feature, hostile and malformed
input. Every rendering is parsed with html.parser and checked for structure, not substrings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from conftest import FIXTURES, SEEDS
from markupsafe import Markup

from digestbot.articles import Article, read_article
from digestbot.compose import Topic, compose, preview_arguments
from digestbot.web.render import headlines, render_blocks, render_message, render_mrkdwn

WHEN = datetime(2020, 5, 15, 9, 0, tzinfo=UTC)
SONY = "000_5d341ca81f4b44a3.txt"
TECHSPOT = "002_eaca369081adb758.txt"
SONY_URL = (
    "https://www.theverge.com/2020/5/14/21258403/sony-image-sensor-integrated-ai-chip-imx500-"
    "specs-price"
)
SONY_TITLE = "Sony’s first AI image sensor will make cameras everywhere smarter"

# What the renderer may write, and nothing else: no script, style, event attribute or frame.
ALLOWED_TAGS = {
    "div", "span", "strong", "em", "del", "code", "pre", "a", "img", "hr", "br", "figure",
    "figcaption",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"class", "href", "rel", "target", "src", "alt", "loading", "referrerpolicy"}
VOID = {"img", "hr", "br"}
LINK = '<a class="slack-link" href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>'
CHANNEL, HERE, EVERYONE = (
    f'<span class="slack-mention slack-broadcast">@{name}</span>'
    for name in ("channel", "here", "everyone")
)


@dataclass
class Node:
    """An element of the rendered HTML, as html.parser saw it."""

    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        """The text a reader sees (character references decoded, tags dropped)."""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find(self, tag: str | None = None, css: str | None = None) -> list[Node]:
        """Every element below this one with that tag and that class, in document order."""
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and (css is None or css in child.classes):
                    found.append(child)
                found.extend(child.find(tag, css))
        return found


class TreeBuilder(HTMLParser):
    """Builds the element tree, failing on anything the renderer should never write."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root")
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = [name for name, _ in attrs]
        assert len(names) == len(set(names)), f"duplicate attribute in <{tag}>: {names}"
        node = Node(tag, dict(attrs))
        self.open[-1].children.append(node)
        if tag not in VOID:
            self.open.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise AssertionError(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        assert tag not in VOID and self.open[-1].tag == tag, f"</{tag}> closes {self.open[-1]}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(data)

    def handle_comment(self, data: str) -> None:
        raise AssertionError(f"comment {data!r}")

    def unknown_decl(self, data: str) -> None:
        raise AssertionError(f"declaration {data!r}")


def parse(html: Markup) -> Node:
    """Parse a rendering, asserting it is well formed and safe: only the expected tags and
    attributes, links and images only to http(s), and no `javascript:` even as text."""
    assert isinstance(html, Markup)
    builder = TreeBuilder()
    builder.feed(str(html))
    builder.close()
    assert builder.open == [builder.root], "unclosed elements"
    for node in builder.root.find():
        assert node.tag in ALLOWED_TAGS, node.tag
        for name, value in node.attrs.items():
            assert not name.startswith("on") and name != "style", name
            assert name in ALLOWED_ATTRIBUTES, name
            if name in ("href", "src"):
                assert value and value.lower().startswith(("http://", "https://")), value
        if node.tag == "a":
            assert node.attrs["rel"] == "noopener noreferrer nofollow"
            assert node.attrs["target"] == "_blank"
        if node.tag == "img":
            assert node.attrs["loading"] == "lazy"
            assert node.attrs["referrerpolicy"] == "no-referrer"
            assert node.attrs.get("alt") is not None
    lowered = str(html).lower()
    assert "javascript:" not in lowered and "<script" not in lowered
    return builder.root


def article(name: str) -> Article:
    path = SEEDS / name
    return read_article(path, path.name)[1]


def many(count: int) -> tuple[Article, ...]:
    base = article(SONY)
    return tuple(
        replace(base, title=f"Story {n}", url=f"https://example.com/{n}") for n in range(count)
    )


def section(text: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def image(url: Any, alt: Any = "alt") -> dict[str, Any]:
    return {"type": "image", "image_url": url, "alt_text": alt}


# Real digests.


def test_the_seed_digest_renders_like_slack() -> None:
    """Header, date line, topic, headline link with image at the right, then one line with the
    provider logo, name and date, and the related links: each where Slack draws it."""
    [message] = compose("AI daily", [Topic("AI", (article(SONY),))], WHEN)
    root = parse(render_message(message.arguments("#ai-news")))
    [box] = root.find("div", "slack-message")
    assert "slack-thread-reply" not in box.classes and not root.find(css="slack-thread-label")
    assert [h.text() for h in root.find(css="slack-header")] == ["AI daily"]
    intro, byline = root.find(css="slack-context")
    assert intro.text() == "Friday, 15 May 2020 · AI"
    topic, card = root.find(css="slack-section")
    assert [s.text() for s in topic.find("strong")] == ["AI"]
    assert "slack-has-accessory" in card.classes
    [headline] = card.find("strong")
    [link] = headline.find("a")
    assert (link.attrs["href"], link.text()) == (SONY_URL, SONY_TITLE)
    assert card.find(css="slack-text")[0].text().startswith(SONY_TITLE + "Sony’s new image")
    assert len(card.find("br")) == 1
    [photo] = card.find(css="slack-accessory")[0].find("img")
    assert photo.attrs["src"].startswith("https://cdn.vox-cdn.com/") and photo.attrs["alt"] == (
        SONY_TITLE
    )
    [logo] = byline.find("img", "slack-context-image")
    assert logo.attrs["alt"] == "The Verge" and logo.attrs["src"].endswith("theverge.com-50x50.jpg")
    date_line, related = byline.find(css="slack-context-text")
    assert date_line.text() == "The Verge · 14 May 2020"
    hrefs = [a.attrs["href"] for a in related.find("a")]
    assert [h.split("/")[2] for h in hrefs] == ["www.engadget.com", "inews.co.uk"]
    assert len(related.find("br")) == 1 and related.text().startswith("↪ Sony's new image")
    assert not root.find("hr", "slack-divider")


def test_the_golden_digest_renders_every_block_it_holds() -> None:
    """The reviewed seed digest JSON (the wire format) renders without placeholders."""
    for arguments in json.loads((FIXTURES / "golden" / "seed-digest.json").read_text()):
        root = parse(render_message(arguments))
        assert not root.find(css="slack-unsupported")
        assert root.find(css="slack-header") and root.find(css="slack-accessory-image")


def test_both_seeds_render_with_their_headlines() -> None:
    """A digest of both seeds shows two cards, and headlines lists both articles in order."""
    seeds = (article(SONY), article(TECHSPOT))
    [message] = compose("AI daily", [Topic("AI", seeds)], WHEN)
    root = parse(render_message(message.arguments()))
    assert len(root.find(css="slack-accessory-image")) == 2
    assert [i.attrs["alt"] for i in root.find(css="slack-context-image")] == [
        "The Verge",
        "TechSpot",
    ]
    assert headlines(message.blocks) == [(a.url, a.title) for a in seeds]


def test_a_long_digest_continues_in_thread_replies() -> None:
    """Each continuation of a long digest is marked as a thread reply; together the messages'
    headlines list every article once, in order."""
    topics = [Topic(name, many(12)) for name in ("AI", "Cloud", "Data")]
    messages = compose("Big", topics, WHEN)
    arguments = preview_arguments("#news", messages)
    assert len(arguments) > 1
    roots = [parse(render_message(a)) for a in arguments]
    replies = ["slack-thread-reply" in r.find("div")[0].classes for r in roots]
    assert replies == [False] + [True] * (len(roots) - 1)
    for root, reply in zip(roots, replies, strict=True):
        labels = [label.text() for label in root.find(css="slack-thread-label")]
        assert labels == (["reply in thread"] if reply else [])
    assert "(continued)" in roots[1].text()
    found = [pair for a in arguments for pair in headlines(a["blocks"])]
    expected = [(f"https://example.com/{n}", f"Story {n}") for n in range(12)] * 3
    assert found == expected


@pytest.mark.parametrize(
    ("extra", "reply"),
    [
        ({"thread": True}, True),
        ({"thread_ts": "1589533200.000100"}, True),
        ({"thread": False}, False),
        ({"thread": "yes"}, False),
        ({}, False),
    ],
)
def test_thread_replies_are_marked(extra: dict[str, Any], reply: bool) -> None:
    """`"thread": true` (preview) or a thread_ts (delivery) marks a reply; nothing else does."""
    root = parse(render_message({"text": "x", "blocks": [{"type": "divider"}], **extra}))
    assert ("slack-thread-reply" in root.find("div")[0].classes) is reply
    assert bool(root.find(css="slack-thread-label")) is reply


# headlines.


def test_headlines_are_decoded_and_skip_everything_else() -> None:
    """Titles and URLs come back decoded once; topic headings, unlinked titles, links later in
    a text, non-mrkdwn text and non-http(s) addresses are not headlines."""
    blocks = [
        section("*AI*"),
        section("*<https://a.example/?q=1&amp;r=2|Tom &amp; Jerry &lt;3 *big* | news>*\nmore"),
        section("*Unlinked title*"),
        section("see *<https://b.example|later>*"),
        {"type": "section", "text": {"type": "plain_text", "text": "*<https://c.example|x>*"}},
        section("*<javascript:alert(1)|Evil>*"),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "*<https://d.example|y>*"}]},
        section("*<https://e.example/2|Second>*"),
    ]
    assert headlines(blocks) == [
        ("https://a.example/?q=1&r=2", "Tom & Jerry <3 *big* | news"),
        ("https://e.example/2", "Second"),
    ]


def test_headlines_of_the_compact_layout_are_its_lines() -> None:
    """A compact digest's section holds a line per article, each opening with its link."""
    blocks = [
        section(
            "• <https://a.example/1|First &amp; best> · Outlet · <!date^1^{date_short}|1 Jan>\n"
            "• Unlinked title · Outlet\n"
            "• <javascript:alert(1)|Evil> · Outlet\n"
            "• <https://b.example/2|Second> · Outlet"
        )
    ]
    assert headlines(blocks) == [
        ("https://a.example/1", "First & best"),
        ("https://b.example/2", "Second"),
    ]


@pytest.mark.parametrize(
    "blocks",
    [[], None, "text", 42, [None, 1, "x", []], [{"type": "section"}], [section(None)]],
)
def test_headlines_of_malformed_blocks_are_empty(blocks: Any) -> None:
    """headlines never raises on malformed blocks; it finds nothing in them."""
    assert headlines(blocks) == []


# mrkdwn features.


@pytest.mark.parametrize(
    ("mrkdwn", "html"),
    [
        ("*bold*", "<strong>bold</strong>"),
        ("_italic_", "<em>italic</em>"),
        ("~strike~", "<del>strike</del>"),
        ("*bold _and italic_*", "<strong>bold <em>and italic</em></strong>"),
        ("`*not bold*`", '<code class="slack-code">*not bold*</code>'),
        ("```a *b*\n&lt;c&gt;```", '<pre class="slack-pre">a *b*\n&lt;c&gt;</pre>'),
        ("x\n```\ncode\n```\ny", 'x<br><pre class="slack-pre">code</pre><br>y'),
        ("one\ntwo", "one<br>two"),
        ("2*3*4 snake_case_name a~b~c", "2*3*4 snake_case_name a~b~c"),
        ("* not bold * and **", "* not bold * and **"),
        ("*open _cross* close_", "<strong>open _cross</strong> close_"),
        ("*bold\nline*", "*bold<br>line*"),
        ("*x*, (_y_).", "<strong>x</strong>, (<em>y</em>)."),
        ("<https://a.example/?q=1&amp;r=2>", LINK.format(*["https://a.example/?q=1&amp;r=2"] * 2)),
        ("<https://a.example|A &amp; B>", LINK.format("https://a.example", "A &amp; B")),
        ("*<https://a.example|t>*", f"<strong>{LINK.format('https://a.example', 't')}</strong>"),
        ("<HTTP://A.example|up>", LINK.format("HTTP://A.example", "up")),
        ("<https://a.example/x|y|z>", LINK.format("https://a.example/x", "y|z")),
        ("<!channel> <!here> <!everyone>", f"{CHANNEL} {HERE} {EVERYONE}"),
        ("<!here|here>", HERE),
        ("<@U123>", '<span class="slack-mention">@U123</span>'),
        ("<#C123|general>", '<span class="slack-mention slack-channel">#general</span>'),
        ("<#C123>", '<span class="slack-mention slack-channel">#C123</span>'),
        ("<!subteam^S1|@team>", '<span class="slack-mention">@team</span>'),
        ("<!date^1392734382^{date_short_pretty}|Feb 18, 2014>", "Feb 18, 2014"),
        ("<!date^1392734382^{date}^https://a.example|Feb 18>", "Feb 18"),
        ("<!unknown>", "&lt;!unknown&gt;"),
        (":tada: :+1:", ":tada: :+1:"),
        ("&lt;b&gt; &amp; &amp;lt; &#106;", "&lt;b&gt; &amp; &amp;lt; &amp;#106;"),
        ("a > b", "a &gt; b"),
        ("it's \"quoted\"", "it&#39;s &#34;quoted&#34;"),
        ("", ""),
    ],
)  # fmt: skip
def test_mrkdwn_features(mrkdwn: str, html: str) -> None:
    """Each mrkdwn feature renders as Slack draws it, with text escaped exactly once."""
    rendered = render_mrkdwn(mrkdwn)
    parse(rendered)
    assert rendered == Markup(html)


@pytest.mark.parametrize(
    ("mrkdwn", "html"),
    [
        ("```x```", '<pre class="slack-pre">x</pre>'),
        ("```a```\n```b```", '<pre class="slack-pre">a</pre><br><pre class="slack-pre">b</pre>'),
    ],
)
def test_a_code_block_ends_at_the_next_fence(mrkdwn: str, html: str) -> None:
    """A code block, even of one character, ends at the first fence after it: two stay two."""
    assert render_mrkdwn(mrkdwn) == Markup(html)


def test_an_unclosed_code_fence_is_text() -> None:
    """A fence that is never closed shows as typed, and the rest of its line is still formatted."""
    assert render_mrkdwn("a ```b *c*") == Markup("a ```b <strong>c</strong>")


def test_a_line_may_open_with_a_formatted_word() -> None:
    """A marker at the very start of a line opens, whatever the line ends with."""
    assert render_mrkdwn("*Sony* makes sensors") == Markup("<strong>Sony</strong> makes sensors")


@pytest.mark.parametrize("mrkdwn", ["*wait for it *", "*web*site", "snake_case_ names", "a*b* c"])
def test_markers_pair_only_at_the_edges_of_words(mrkdwn: str) -> None:
    """Markers after a space or before a letter never close, after a letter never open."""
    assert render_mrkdwn(mrkdwn) == Markup(mrkdwn)


def test_markers_a_closer_skips_stay_text() -> None:
    """Markers a closer skips stay text, and a later one of their kind closes nothing."""
    assert render_mrkdwn("_x *a *b_ c*") == Markup("<em>x *a *b</em> c*")


def test_header_and_plain_text_are_never_parsed() -> None:
    """A header and plain_text show their text as it is: no mention, link or formatting."""
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "<!here> *x* <https://a.b>"}},
        {"type": "section", "text": {"type": "plain_text", "text": "&lt; _y_\nz"}},
        {"type": "header", "text": {"type": "mrkdwn", "text": "<!channel> *z*"}},
    ]
    root = parse(render_blocks(blocks))
    assert not root.find("a") and not root.find("span") and not root.find("strong")
    header, _ = root.find(css="slack-header")
    assert header.text() == "<!here> *x* <https://a.b>"
    assert root.find(css="slack-text")[0].text() == "&lt; _y_z"
    assert len(root.find("br")) == 1


def test_section_fields_and_image_blocks() -> None:
    """Section fields render in a fields grid; an image block shows its title and image."""
    blocks = [
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": "*a*"}, {"type": "plain_text", "text": "*b*"}],
        },
        {
            "type": "image",
            "image_url": "https://img.example/x.png",
            "alt_text": "X",
            "title": {"type": "plain_text", "text": "Title"},
        },
    ]
    root = parse(render_blocks(blocks))
    fields = root.find(css="slack-field")
    assert [f.text() for f in fields] == ["a", "*b*"] and fields[0].find("strong")
    [figure] = root.find("figure", "slack-image-block")
    assert figure.find("figcaption")[0].text() == "Title"
    [img] = figure.find("img", "slack-image")
    assert (img.attrs["src"], img.attrs["alt"]) == ("https://img.example/x.png", "X")


# Hostile text.

HOSTILE_TEXT = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "<!channel> <!here> <@U024BE7LH> <https://evil.example|this>",
    "</div></div><style>body{display:none}</style>",
    "'; alert(1); //",
]


@pytest.mark.parametrize("hostile", HOSTILE_TEXT)
@pytest.mark.parametrize("where", ["title", "excerpt", "provider"])
def test_hostile_article_text_is_shown_as_text(hostile: str, where: str) -> None:
    """A hostile title, excerpt or provider, through compose, reads as the same text and
    never becomes markup, a link or a mention."""
    hostile_article = replace(article(SONY), **{where: hostile}, related=())
    [message] = compose("AI daily", [Topic("AI", (hostile_article,))], WHEN)
    root = parse(render_message(message.arguments()))
    assert hostile in root.text()
    assert [a.attrs["href"] for a in root.find("a")] == [SONY_URL]
    assert not root.find("span", "slack-mention")


HOSTILE_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;avascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "  javascript:alert(1)",
    "\x01\x02javascript:alert(1)",
    "\u00a0javascript:alert(1)",
    "javascript&colon;alert(1)",
    "javascript://%0aalert(1)",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:image/png;base64,iVBORw0KGgo=",
    "//evil.example/x",
    "/relative/path",
    "evil.example",
    "ftp://evil.example/x",
    "https:evil.example",
    "http:/evil.example",
    "https://",
    "ht\ttps://evil.example",
    "",
]
# http(s) addresses a browser would rewrite (it drops tabs and newlines inside): not links here,
# though compose would have percent-encoded them.
UNCLEAN_URLS = ["https://evil.example/a\tb", "https://evil.example/a b", "https://a.example/\x00x"]


@pytest.mark.parametrize("url", HOSTILE_URLS + UNCLEAN_URLS)
def test_only_http_links_become_links(url: str) -> None:
    """A link to anything but an http(s) address shows its label (or address) as text."""
    root = parse(render_mrkdwn(f"<{url}|Click me> and <{url}>"))
    assert not root.find("a")
    assert "Click me" in root.text()


ARCHIVED = "https://web.archive.org/web/2020/https://a.example/x"


def test_an_address_holding_another_address_links() -> None:
    """An http(s) address that holds another (an archive's copy) is a link and a headline."""
    root = parse(render_mrkdwn(f"<{ARCHIVED}|archived>"))
    [link] = root.find("a")
    assert (link.attrs["href"], link.text()) == (ARCHIVED, "archived")
    assert headlines([section(f"*<{ARCHIVED}|Archived>*")]) == [(ARCHIVED, "Archived")]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_article_urls_never_link(url: str) -> None:
    """An article whose address is not http(s) still shows its title, as text."""
    [message] = compose("D", [Topic("AI", (replace(article(SONY), url=url, related=()),))], WHEN)
    root = parse(render_message(message.arguments()))
    assert not root.find("a")
    assert SONY_TITLE in root.text()
    assert headlines(message.blocks) == []


@pytest.mark.parametrize("url", HOSTILE_URLS + UNCLEAN_URLS)
def test_only_http_images_are_loaded(url: str) -> None:
    """An image accessory, context image or image block not at an http(s) address emits no
    <img>, only a placeholder naming its alt text."""
    blocks = [
        section("x", accessory=image(url, "<b>alt</b>")),
        {"type": "context", "elements": [image(url, "logo"), {"type": "mrkdwn", "text": "P"}]},
        image(url, "big"),
    ]
    root = parse(render_blocks(blocks))
    assert not root.find("img")
    blocked = [node.text() for node in root.find("span", "slack-image-blocked")]
    assert blocked == ["[image: <b>alt</b>]", "[image: logo]", "[image: big]"]


@pytest.mark.parametrize(
    "url",
    [
        "https://a.example/x",
        " HTTPS://a.example/x ",
        "\x00https://a.example/x\x7f",
        "\u00a0https://a.example/x\u2028",
        "http://a.example/?q=%3Cscript%3E",
        "https://a.example/?next=JavaScript:alert(1)",
    ],
)
def test_http_addresses_link_and_load_once_trimmed(url: str) -> None:
    """http(s) addresses, in any case, surrounded by spaces or controls, link and load."""
    root = parse(render_blocks([section(f"<{url}|L>", accessory=image(url))]))
    [link], [img] = root.find("a"), root.find("img")
    assert link.attrs["href"] == img.attrs["src"] == url.strip(" \x00\x7f\u00a0\u2028")


@pytest.mark.parametrize(
    "url",
    [
        'https://a.example/"onmouseover="alert(1)',
        "https://a.example/'onmouseover='alert(1)",
        'https://a.example/"><script>alert(1)</script>',
        'https://a.example/"style="x',
    ],
)
def test_quotes_in_an_address_stay_inside_the_attribute(url: str) -> None:
    """A URL with quotes cannot add attributes or elements: it stays one escaped value."""
    decoded = url
    url = url.replace("<", "&lt;").replace(">", "&gt;")
    root = parse(render_blocks([section(f"<{url}|L>"), image(decoded, alt=decoded)]))
    [link], [img] = root.find("a"), root.find("img")
    assert link.attrs["href"] == img.attrs["src"] == img.attrs["alt"] == decoded
    assert set(link.attrs) == {"class", "href", "rel", "target"}
    assert set(img.attrs) == {"class", "src", "alt", "loading", "referrerpolicy"}


def test_hostile_alt_text_and_block_type_are_escaped() -> None:
    """Alt text and an unknown block's type are text: no element or attribute comes of them."""
    blocks = [
        image("https://a.example/x.png", alt='"><img src=x onerror=alert(1)>'),
        {"type": '<img src=x onerror="alert(1)">'},
    ]
    root = parse(render_blocks(blocks))
    assert len(root.find("img")) == 1
    assert root.find("img")[0].attrs["alt"] == '"><img src=x onerror=alert(1)>'
    [placeholder] = root.find(css="slack-unsupported")
    assert placeholder.text() == '[<img src=x onerror="alert(1)"> block]'


def test_javascript_in_text_is_readable_but_never_written_out() -> None:
    """Text reading `javascript:` is shown to the reader, yet the HTML never holds the string."""
    rendered = render_mrkdwn("JavaScript: the good parts; vbscript:x")
    assert parse(rendered).text() == "JavaScript: the good parts; vbscript:x"


# Malformed input.


@pytest.mark.parametrize(
    ("blocks", "placeholders"),
    [
        ([{"type": "actions", "elements": [{"text": "SECRET"}]}], ["[actions block]"]),
        ([{}], ["[unknown block]"]),
        ([{"type": None}], ["[unknown block]"]),
        ([{"type": ["section"]}], ["[unknown block]"]),
        ([{"type": {"a": 1}}], ["[unknown block]"]),
        ([1, "section", None, ["x"]], ["[unknown block]"] * 4),
        ([{"type": "x" * 10_000}], ["[" + "x" * 60 + " block]"]),
        ([{"type": "section"}], []),
        ([{"type": "section", "text": None, "fields": "abc"}], []),
        ([{"type": "section", "text": {"type": "mrkdwn"}}], []),
        ([{"type": "section", "text": 42}], []),
        ([{"type": "section", "text": ["x"], "fields": [1, None]}], []),
        ([section("x", accessory={"type": "button", "text": "SECRET"})], ["[button element]"]),
        ([section("x", accessory="SECRET")], ["[unknown element]"]),
        ([section({"text": "SECRET"})], []),
        ([{"type": "header"}], []),
        ([{"type": "header", "text": {"type": "plain_text", "text": 3.5}}], []),
        ([{"type": "context"}], []),
        ([{"type": "context", "elements": "SECRET"}], []),
        ([{"type": "context", "elements": [None, {"type": "button", "text": "SECRET"}]}],
         ["[unknown element]", "[button element]"]),
        ([{"type": "image"}], []),
        ([{"type": "image", "image_url": 7, "alt_text": None, "title": 5}], []),
        ([{"type": "divider", "extra": "SECRET"}], []),
    ],
)  # fmt: skip
def test_malformed_blocks_render_without_raising(
    blocks: list[Any], placeholders: list[str]
) -> None:
    """Missing keys, wrong types and unknown blocks never raise; unknown kinds show a named
    placeholder, never their content."""
    root = parse(render_blocks(blocks))
    assert [p.text() for p in root.find(css="slack-unsupported")] == placeholders
    assert "SECRET" not in root.text()


@pytest.mark.parametrize(
    ("value", "shown"), [(42, "42"), (3.5, "3.5"), (True, ""), (None, ""), (["x"], "")]
)
def test_a_number_where_text_should_be_is_shown(value: Any, shown: str) -> None:
    """Numbers in text fields are shown; other non-text values show nothing."""
    assert parse(render_blocks([section(value)])).text() == shown
    assert parse(render_mrkdwn(value)).text() == shown


@pytest.mark.parametrize(
    "arguments",
    [
        {"text": "*hi* <!here>"},
        {"text": "*hi* <!here>", "blocks": []},
        {"text": "*hi* <!here>", "blocks": "x"},
    ],
)
def test_a_message_without_blocks_shows_its_text(arguments: dict[str, Any]) -> None:
    """Without blocks, the message's mrkdwn `text` is what Slack shows."""
    root = parse(render_message(arguments))
    assert root.find("strong")[0].text() == "hi" and root.text() == "hi @here"


@pytest.mark.parametrize("arguments", [None, [], "text", 42, {"blocks": None, "text": None}])
def test_a_malformed_message_renders_an_empty_box(arguments: Any) -> None:
    """Arguments that are not a mapping, or hold nothing, give an empty message box."""
    root = parse(render_message(arguments))
    assert [d.classes for d in root.find("div")] == [{"slack-message"}, {"slack-text"}]
    assert root.text() == ""


LONG = 20_000  # long enough that a scan quadratic in it would take minutes
LONG_TEXTS = {
    "markers": "*_~<|>" * (LONG // 6),
    "openers": "*a _b ~c " * (LONG // 9),
    "angles": "<" * LONG,
    "links": "<https://a.example|" * (LONG // 20),
    "backticks": "`" * LONG,
    "fences": "```x" * (LONG // 4) + "`",
    "entities": "&lt;&amp;" * (LONG // 9),
    "spaces": " " * LONG + "*x",
    "lines": "*a\n" * (LONG // 3),
    "blank url": "<" + "\t" * LONG + "javascript:x|y>",
}


@pytest.mark.parametrize("text", LONG_TEXTS.values(), ids=LONG_TEXTS.keys())
def test_very_long_hostile_text_is_rendered(text: str) -> None:
    """20,000-character texts full of markup characters render (the scan is linear)."""
    rendered = render_message(
        {
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": text}},
                section(text, accessory=image(text, text)),
                section("*<" + text + "|" + text + ">*"),
            ]
        }
    )
    assert len(rendered) > LONG
    parse(rendered)
    assert len(headlines([section("*<https://a.example|" + text + ">*"), section(text)])) <= 1


BLOCKED = '<span class="slack-image-blocked">{}</span>'
UNSUPPORTED = '<span class="slack-unsupported">[{} element]</span>'


@pytest.mark.parametrize(
    ("blocks", "html"),
    [
        ([{"type": "divider"}], '<hr class="slack-divider">'),
        (
            [
                {
                    "type": "section",
                    "fields": [
                        {"type": "mrkdwn", "text": "*a*"},
                        {"type": "plain_text", "text": "*b*"},
                    ],
                }
            ],
            '<div class="slack-section"><div class="slack-section-body"><div class="slack-fields">'
            '<div class="slack-field"><strong>a</strong></div>'
            '<div class="slack-field">*b*</div></div></div></div>',
        ),
        (
            [
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": "x"},
                    "fields": [{"type": "mrkdwn", "text": "y"}],
                    "accessory": {"type": "button"},
                }
            ],
            '<div class="slack-section slack-has-accessory"><div class="slack-section-body">'
            '<div class="slack-text">x</div><div class="slack-fields"><div class="slack-field">y'
            '</div></div></div><div class="slack-accessory">'
            + UNSUPPORTED.format("button")
            + "</div></div>",
        ),
        (
            [
                {
                    "type": "image",
                    "image_url": "https://i.example/a.png",
                    "alt_text": "A",
                    "title": {"type": "mrkdwn", "text": "*T*"},  # plain, whatever its type
                }
            ],
            '<figure class="slack-image-block"><figcaption class="slack-image-title">*T*'
            '</figcaption><img class="slack-image" src="https://i.example/a.png" alt="A" '
            'loading="lazy" referrerpolicy="no-referrer"></figure>',
        ),
        (
            [
                {
                    "type": "context",
                    "elements": [
                        {"type": "image", "image_url": "javascript:x", "alt_text": ""},
                        {"type": "image", "image_url": "ftp://x.example/l.png", "alt_text": "Logo"},
                        {"type": "plain_text", "text": "*p*"},
                        5,
                        {"type": "button"},
                    ],
                }
            ],
            '<div class="slack-context">'
            + BLOCKED.format("[image]")
            + BLOCKED.format("[image: Logo]")
            + '<span class="slack-context-text">*p*</span>'
            + UNSUPPORTED.format("unknown")
            + UNSUPPORTED.format("button")
            + "</div>",
        ),
    ],
)
def test_blocks_render_to_exactly_this_html(blocks: list[dict], html: str) -> None:
    """Dividers, section fields beside text and accessories, titled image blocks, and context
    elements (plain text unparsed, images that may not load named, the unknown named)."""
    assert str(render_blocks(blocks)) == html


@pytest.mark.parametrize(
    ("mrkdwn", "html"),
    [
        ("<!subteam^S123>", '<span class="slack-mention">@S123</span>'),
        ("<!subteam^S123|@team>", '<span class="slack-mention">@team</span>'),
        ("<mailto:a@b.example>", "mailto:a@b.example"),
        ("<mailto:a@b.example|write>", "write"),
        ("<mailto:a@b.example|>", "mailto:a@b.example"),
        ("<https://?q|no host>", "no host"),
        ("<https:///path|no host>", "no host"),
        ("a\nb", "a<br>b"),
    ],
)
def test_groups_and_addresses_that_are_not_links(mrkdwn: str, html: str) -> None:
    """A user group shows its label or its ID; an address that is not http(s) with a host is
    its label, or its text when the label is empty."""
    assert str(render_mrkdwn(mrkdwn)) == html
