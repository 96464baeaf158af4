"""The workspace in headless Chromium, driven with the real mouse and keyboard."""

import json

import pytest
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Relation
from annotator.models import Span
from tests.conftest import browser_login
from tests.factories import corpus_records
from tests.factories import in_app
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user

pytestmark = pytest.mark.browser

UNICODE_TEXT = (
    "💩 Ansar al-Sharia 👨🏻‍🚒 fired 3 rockets at Benghazi 🇱🇾.\n"
    "Me\u0301decins Sans Frontie\u0300res said the shelling of حلب killed 12 people.\n"
    "قالت وكالة سانا إن القصف أصاب مدينة حلب."
)
CLAIM_TEXT = ("Rocket fire on western Mosul left almost 100 people dead, SANA said. "
              "The brigade denied it.")


@in_app
def assign(document_id, user):
    db.session.add(Assignment(document_id=document_id, user_id=user.id))
    db.session.commit()


@in_app
def stored(document_id):
    """Return the stored spans (start, end, label) and relations of the document, sorted."""
    spans = db.session.scalars(select(Span).join(AnnotationSet).where(AnnotationSet.document_id == document_id)).all()
    relations = db.session.scalars(
        select(Relation).join(AnnotationSet).where(AnnotationSet.document_id == document_id)).all()
    return (sorted((s.start, s.end, s.label) for s in spans),
            sorted((r.head.start, r.tail.start, r.label) for r in relations))


@in_app
def assignment_status(document_id):
    return db.session.scalar(select(Assignment.status).where(Assignment.document_id == document_id))


@in_app
def stored_attrs(document_id, start):
    span = db.session.scalar(select(Span).join(AnnotationSet).where(
        AnnotationSet.document_id == document_id, Span.start == start))
    return span.attrs


def open_workspace(page, text, username="amira"):
    """Create a project with ``text`` assigned to a new annotator, log in and open it."""
    user = make_user(username)
    project = make_project(members=[user])
    [did] = make_documents(project, [text])
    assign(did, user)
    browser_login(page, username)
    goto_workspace(page, did)
    return did


def goto_workspace(page, did):
    page.goto(f"/documents/{did}/annotate")
    page.wait_for_selector("#doc-text[data-ready=true]")


def utf16(text, cp):
    return len(text[:cp].encode("utf-16-le")) // 2


def word_rects(page, text, start, end):
    """Return the client rects of the first and last character of text[start:end]."""
    return page.evaluate(
        """([a, b]) => {
          const walker = document.createTreeWalker(document.getElementById("doc-text"), NodeFilter.SHOW_TEXT);
          const rectAt = (u) => {
            walker.currentNode = walker.root;
            while (walker.nextNode()) {
              const n = walker.currentNode;
              if (n.__u16 <= u && u < n.__u16 + n.data.length) {
                const r = document.createRange();
                r.setStart(n, u - n.__u16);
                r.setEnd(n, u - n.__u16 + 1);
                const box = r.getClientRects()[0];
                return {left: box.left, right: box.right, top: box.top, bottom: box.bottom};
              }
            }
            return null;
          };
          return [rectAt(a), rectAt(b - 1)];
        }""",
        [utf16(text, start), utf16(text, end)],
    )


def drag_select(page, text, word, occurrence_start=None):
    """Select ``word`` by dragging the mouse from its first to its last character."""
    start = text.index(word) if occurrence_start is None else occurrence_start
    first, last = word_rects(page, text, start, start + len(word))
    rtl = first["left"] > last["left"] and abs(first["top"] - last["top"]) < 2
    y1 = (first["top"] + first["bottom"]) / 2
    y2 = (last["top"] + last["bottom"]) / 2
    x1 = first["right"] - 1 if rtl else first["left"] + 1
    x2 = last["left"] + 1 if rtl else last["right"] - 1
    page.mouse.move(x1, y1)
    page.mouse.down()
    page.mouse.move(x2, y2, steps=4)
    page.mouse.up()


def dblclick_word(page, text, word):
    start = text.index(word)
    first, last = word_rects(page, text, start, start + len(word))
    page.mouse.dblclick((first["left"] + first["right"]) / 2, (first["top"] + first["bottom"]) / 2)


def wait_saved(page):
    page.wait_for_selector("#save-state[data-state=saved]")


def drawn(page):
    """Return the drawn spans as (start, end, label), sorted."""
    return sorted({(int(e["start"]), int(e["end"]), e["label"]) for e in page.eval_on_selector_all(
        "#doc-text [data-span-id]", "els => els.map(e => ({...e.dataset}))")})


def test_offsets_module_converts_between_code_points_and_utf16(page):
    make_user("amira")
    browser_login(page, "amira")
    samples = ["plain", "💩 a 👨🏻‍🚒 b 🇱🇾 c", "Me\u0301decins حلب", "𝔘𝔫𝔦"]
    results = page.evaluate(
        """async (samples) => {
          const { OffsetIndex, codePointLength } = await import("/static/js/workspace/offsets.js");
          return samples.map((s) => {
            const index = new OffsetIndex(s);
            const cps = [...Array(index.lengthCp + 1).keys()];
            return {len: codePointLength(s), toU16: cps.map((c) => index.toUtf16(c)),
                    back: cps.map((c) => index.toCodePoint(index.toUtf16(c))),
                    slices: cps.slice(0, -1).map((c) => index.slice(c, c + 1))};
          });
        }""",
        samples,
    )
    for text, got in zip(samples, results, strict=True):
        assert got["len"] == len(text)
        assert got["toU16"] == [utf16(text, cp) for cp in range(len(text) + 1)]
        assert got["back"] == list(range(len(text) + 1))
        assert got["slices"] == list(text)


def test_mouse_selection_and_hotkeys_store_code_point_offsets(page):
    did = open_workspace(page, UNICODE_TEXT)
    drag_select(page, UNICODE_TEXT, "Benghazi")
    page.keyboard.press("3")
    dblclick_word(page, UNICODE_TEXT, "Me\u0301decins")
    page.keyboard.press("1")
    dblclick_word(page, UNICODE_TEXT, "حلب")
    page.keyboard.press("3")
    drag_select(page, UNICODE_TEXT, "سانا")
    page.keyboard.press("1")
    drag_select(page, UNICODE_TEXT, "3 rockets")
    page.click('#label-palette button[data-label="WEAPON"]')
    wait_saved(page)
    expected = sorted((UNICODE_TEXT.index(w), UNICODE_TEXT.index(w) + len(w), label) for w, label in [
        ("Benghazi", "LOCATION"), ("Me\u0301decins", "ACTOR"), ("حلب", "LOCATION"), ("سانا", "ACTOR"),
        ("3 rockets", "WEAPON")])
    assert stored(did)[0] == expected
    assert drawn(page) == expected
    page.reload()
    page.wait_for_selector("#doc-text[data-ready=true]")
    assert drawn(page) == expected
    arabic = page.locator("#doc-text .para").nth(2)
    assert arabic.evaluate("p => getComputedStyle(p).direction") == "rtl"


def test_alt_keeps_character_precision_and_snapping_drops_punctuation(page):
    did = open_workspace(page, CLAIM_TEXT)
    drag_select(page, CLAIM_TEXT, "SANA said.")
    page.keyboard.press("1")
    page.keyboard.down("Alt")
    drag_select(page, CLAIM_TEXT, "Roc")
    page.keyboard.up("Alt")
    page.keyboard.press("2")
    wait_saved(page)
    sana = CLAIM_TEXT.index("SANA")
    assert stored(did)[0] == [(0, 3, "WEAPON"), (sana, sana + len("SANA said"), "ACTOR")]


def test_nested_spans_are_drawn_inside_each_other_and_crossing_is_refused(page):
    did = open_workspace(page, CLAIM_TEXT)
    drag_select(page, CLAIM_TEXT, "western Mosul")
    page.keyboard.press("3")
    dblclick_word(page, CLAIM_TEXT, "Mosul")
    page.keyboard.press("3")
    wait_saved(page)
    inner = page.locator("#doc-text .ann .ann")
    assert inner.count() == 1 and inner.get_attribute("data-start") == str(CLAIM_TEXT.index("Mosul"))
    assert "lvl-2" in page.locator("#doc-text > .para > .ann").get_attribute("class")
    drag_select(page, CLAIM_TEXT, "Mosul left")
    page.keyboard.press("1")
    assert "cross" in page.locator("#notice").inner_text()
    wait_saved(page)
    assert len(stored(did)[0]) == 2


def test_relation_attributes_and_hover_highlight(page):
    did = open_workspace(page, CLAIM_TEXT)
    drag_select(page, CLAIM_TEXT, "almost 100 people dead")
    page.keyboard.press("4")
    dblclick_word(page, CLAIM_TEXT, "SANA")
    page.keyboard.press("1")
    wait_saved(page)
    claim = CLAIM_TEXT.index("almost")
    page.click(f'#doc-text .ann[data-start="{claim}"]')
    assert page.input_value("#attr-count_value") == "100"
    assert page.input_value("#attr-qualifier") == "almost"
    page.select_option("#attr-victim_category", "civilian")
    page.fill("#attr-count_low", "many")
    page.press("#attr-count_low", "Tab")
    assert "whole number" in page.locator("#attr-count_low-error").inner_text()
    page.fill("#attr-count_high", "90")
    page.press("#attr-count_high", "Tab")
    wait_saved(page)
    attrs = stored_attrs(did, claim)
    assert attrs["victim_category"] == "civilian" and attrs["count_high"] == 90 and attrs["count_low"] is None
    page.keyboard.press("Escape")
    page.click(f'#doc-text .ann[data-start="{claim}"]')
    page.keyboard.press("r")
    page.click(f'#doc-text .ann[data-start="{CLAIM_TEXT.index("SANA")}"]')
    options = page.locator(".rel-option").all_inner_texts()
    assert [o.split()[-1] for o in options] == ["claimed_by", "perpetrator", "victim"]
    page.keyboard.press("1")
    wait_saved(page)
    assert stored(did)[1] == [(claim, CLAIM_TEXT.index("SANA"), "claimed_by")]
    page.hover("#relation-list li")
    assert page.locator("#doc-text .ann.hl").count() == 2


def test_undo_and_redo_cover_add_edit_delete_and_relations(page):
    did = open_workspace(page, CLAIM_TEXT)
    drag_select(page, CLAIM_TEXT, "almost 100 people dead")
    page.keyboard.press("4")
    dblclick_word(page, CLAIM_TEXT, "SANA")
    page.keyboard.press("1")
    page.keyboard.press("Escape")
    claim, sana = CLAIM_TEXT.index("almost"), CLAIM_TEXT.index("SANA")
    page.click(f'#doc-text .ann[data-start="{claim}"]')
    page.keyboard.press("r")
    page.click(f'#doc-text .ann[data-start="{sana}"]')
    page.keyboard.press("1")
    wait_saved(page)
    full = ([(claim, claim + 22, "CASUALTY_CLAIM"), (sana, sana + 4, "ACTOR")], [(claim, sana, "claimed_by")])
    assert stored(did) == full
    page.keyboard.press("Control+z")  # the relation
    wait_saved(page)
    assert stored(did) == (full[0], [])
    page.keyboard.press("Control+Shift+z")
    wait_saved(page)
    assert stored(did) == full
    page.click(f'#doc-text .ann[data-start="{sana}"]')
    page.keyboard.press("2")  # relabel the selected span: refused, it would break claimed_by
    assert "break" in page.locator("#notice").inner_text()
    page.keyboard.press("Delete")  # the span and its relation
    wait_saved(page)
    assert stored(did) == ([full[0][0]], [])
    page.keyboard.press("Control+z")
    wait_saved(page)
    assert stored(did) == full
    ids = page.eval_on_selector_all("#doc-text [data-span-id]", "els => els.map(e => e.dataset.spanId)")
    for _ in range(4):  # delete (undone already), relation, SANA, claim: back to nothing
        page.keyboard.press("Control+z")
    wait_saved(page)
    assert stored(did) == ([], [])
    for _ in range(4):  # claim, SANA, relation, delete SANA
        page.keyboard.press("Control+Shift+z")
    wait_saved(page)
    assert stored(did) == ([full[0][0]], [])
    page.keyboard.press("Control+z")
    wait_saved(page)
    assert stored(did) == full
    assert sorted(ids) == sorted(page.eval_on_selector_all("#doc-text [data-span-id]",
                                                           "els => els.map(e => e.dataset.spanId)"))


def test_offline_saves_retry_without_duplicates(page):
    did = open_workspace(page, CLAIM_TEXT)
    page.route("**/api/v1/**", lambda route: route.abort())
    dblclick_word(page, CLAIM_TEXT, "SANA")
    page.keyboard.press("1")
    page.wait_for_selector("#save-state[data-state=offline]")
    assert stored(did)[0] == []
    page.unroute("**/api/v1/**")

    # The server stores the span but the answer is lost: the retry must not duplicate it.
    lost = []

    def answer_lost(route):
        if not lost:
            route.fetch()
            lost.append(route.request.method)
            route.abort()
        else:
            route.continue_()

    page.route("**/api/v1/**", answer_lost)
    wait_saved(page)
    dblclick_word(page, CLAIM_TEXT, "Mosul")
    page.keyboard.press("3")
    wait_saved(page)
    lost.clear()
    page.keyboard.press("Delete")  # delete Mosul; the answer is lost, the retry finds it gone
    wait_saved(page)
    page.unroute("**/api/v1/**")
    sana = CLAIM_TEXT.index("SANA")
    assert stored(did)[0] == [(sana, sana + 4, "ACTOR")]
    dblclick_word(page, CLAIM_TEXT, "brigade")
    page.keyboard.press("1")
    wait_saved(page)
    assert len(stored(did)[0]) == 2
    assert page.locator("#save-state").get_attribute("data-state") == "saved"


def test_a_change_in_another_tab_stops_saving_with_a_message_and_reload(page):
    did = open_workspace(page, CLAIM_TEXT)
    other = page.context.new_page()
    goto_workspace(other, did)
    dblclick_word(page, CLAIM_TEXT, "SANA")
    page.keyboard.press("1")
    wait_saved(page)
    dblclick_word(other, CLAIM_TEXT, "Mosul")
    other.keyboard.press("3")
    other.wait_for_selector("#save-state[data-state=conflict]")
    assert "another tab" in other.locator("#notice").inner_text()
    sana = CLAIM_TEXT.index("SANA")
    assert stored(did)[0] == [(sana, sana + 4, "ACTOR")]
    other.click("#reload-btn")
    other.wait_for_selector("#doc-text[data-ready=true]")
    assert drawn(other) == [(sana, sana + 4, "ACTOR")]
    other.close()


def test_keyboard_only_annotation_submit_and_reopen(page):
    did = open_workspace(page, CLAIM_TEXT)
    page.keyboard.press("Shift+ArrowRight")  # first word
    page.keyboard.press("2")
    for _ in range(4):  # move to "Mosul" (fire, on, western, Mosul)
        page.keyboard.press("ArrowRight")
    page.keyboard.press("3")
    for _ in range(2):  # "left", "almost"
        page.keyboard.press("ArrowRight")
    for _ in range(3):  # ... "100 people dead"
        page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("4")
    page.keyboard.press("Escape")
    page.keyboard.press("]")
    page.keyboard.press("]")
    page.keyboard.press("]")  # the claim
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "span-label"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # victim_category
    assert page.evaluate("document.activeElement.id") == "attr-victim_category"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    page.keyboard.press("[")  # Mosul
    page.keyboard.press("Enter")
    page.keyboard.press("1")  # place
    wait_saved(page)
    mosul, claim = CLAIM_TEXT.index("Mosul"), CLAIM_TEXT.index("almost")
    assert stored(did) == ([(0, 6, "WEAPON"), (mosul, mosul + 5, "LOCATION"),
                            (claim, claim + 22, "CASUALTY_CLAIM")], [(claim, mosul, "place")])
    assert stored_attrs(did, claim)["victim_category"] == "civilian"
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#doc-status[data-status=submitted]")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("1")
    assert "submitted" in page.locator("#notice").inner_text()
    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("g")
    assert page.locator("#guidelines").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#guidelines").is_visible()
    page.focus("#reopen-btn")
    page.keyboard.press("Enter")
    page.wait_for_selector("#doc-status[data-status=in_progress]")
    assert assignment_status(did) == "in_progress"


def test_annotating_a_whole_sample_article_reproduces_its_gold_spans(page):
    record = next(r for r in corpus_records() if r["id"] == "A04")
    text = record["text"]
    did = open_workspace(page, text)
    keys = {"ACTOR": "1", "WEAPON": "2", "LOCATION": "3", "CASUALTY_CLAIM": "4"}
    for span in record["spans"]:
        drag_select(page, text, span["text"], occurrence_start=span["start"])
        page.keyboard.press(keys[span["label"]])
        page.keyboard.press("Escape")
    wait_saved(page)
    gold = sorted((s["start"], s["end"], s["label"]) for s in record["spans"])
    assert stored(did)[0] == gold
    assert drawn(page) == gold
    assert not page.locator("#notice").is_visible()


# --- grapheme clusters: no span starts or ends inside one ---------------------------------------

CLUSTER_TEXT = "Flag \U0001f1f8\U0001f1fe of Me\u0301decins Sans Frontie\u0300res and \U0001f44d\U0001f3fd thanks."
FLAG = CLUSTER_TEXT.index("\U0001f1f8")


def select_utf16(page, start16, end16, alt=True):
    """Select UTF-16 offsets [start16, end16) of the text in the DOM, then release the mouse there.

    The browser's own mouse selection never splits a cluster; this makes a selection that does,
    to show that the page's snapping (Intl.Segmenter) widens it.
    """
    page.evaluate(
        """([a, b, alt]) => {
          const root = document.getElementById("doc-text");
          const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
          const at = (u) => {
            walker.currentNode = root;
            while (walker.nextNode()) {
              const n = walker.currentNode;
              if (n.__u16 <= u && u <= n.__u16 + n.data.length) return [n, u - n.__u16];
            }
            return null;
          };
          const [startNode, startOffset] = at(a);
          const [endNode, endOffset] = at(b);
          window.getSelection().setBaseAndExtent(startNode, startOffset, endNode, endOffset);
          root.dispatchEvent(new MouseEvent("mouseup", { bubbles: true, button: 0, altKey: alt }));
        }""",
        [start16, end16, alt],
    )


def test_segmenter_boundaries_agree_with_the_server_on_flags_emoji_jamo_and_marks(page):
    from annotator.services.text import Graphemes

    make_user("amira")
    browser_login(page, "amira")
    samples = [CLUSTER_TEXT, "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 \u1100\u1161\u11a8 x",
               "\U0001f1f8\U0001f1fe\U0001f1f1\U0001f1fe\U0001f1f8"]
    got = page.evaluate(
        """async (samples) => {
          const { OffsetIndex, isBoundary } = await import("/static/js/workspace/offsets.js");
          return samples.map((s) => {
            const index = new OffsetIndex(s);
            return [...Array(index.lengthCp + 1).keys()].filter((cp) => isBoundary(index, cp));
          });
        }""",
        samples,
    )
    for text, boundaries in zip(samples, got, strict=True):
        graphemes = Graphemes(text)
        assert boundaries == [o for o in range(len(text) + 1) if graphemes.is_boundary(o)], text


def test_mouse_selections_save_whole_clusters_even_with_alt(page):
    did = open_workspace(page, CLUSTER_TEXT)
    page.keyboard.down("Alt")
    drag_select(page, CLUSTER_TEXT, "Me")  # the real mouse, up after the e: the accent comes too
    page.keyboard.up("Alt")
    page.keyboard.press("1")
    wait_saved(page)
    me = CLUSTER_TEXT.index("Me\u0301")
    assert stored(did)[0] == [(me, me + 3, "ACTOR")]
    # A selection ending between the flag's two regional indicators, and one starting between
    # the thumb and its skin tone: both widen to the whole character.
    select_utf16(page, utf16(CLUSTER_TEXT, 0), utf16(CLUSTER_TEXT, FLAG) + 2)
    assert page.evaluate("window.getSelection().toString()") == "Flag \U0001f1f8\U0001f1fe"
    page.keyboard.press("3")
    thumb = CLUSTER_TEXT.index("\U0001f44d")
    select_utf16(page, utf16(CLUSTER_TEXT, thumb) + 2, utf16(CLUSTER_TEXT, thumb + 2) + len(" thanks"))
    page.keyboard.press("2")
    wait_saved(page)
    assert stored(did)[0] == sorted([(0, FLAG + 2, "LOCATION"), (me, me + 3, "ACTOR"),
                                     (thumb, thumb + len("\U0001f44d\U0001f3fd thanks"), "WEAPON")])
    # Snapping to tokens keeps the flag whole too: the stored tokens do not split it.
    select_utf16(page, utf16(CLUSTER_TEXT, FLAG) + 2, utf16(CLUSTER_TEXT, FLAG) + 4, alt=False)
    assert page.evaluate("window.getSelection().toString()") == "\U0001f1f8\U0001f1fe"


def test_the_servers_reason_is_shown_when_it_refuses_a_span_that_splits_a_cluster(page):
    did = open_workspace(page, CLUSTER_TEXT)

    def split_the_flag(route):
        # As a browser whose segmenter disagreed with the server would send it.
        body = route.request.post_data_json
        if route.request.method == "POST" and route.request.url.endswith("/spans"):
            body = {**body, "start": FLAG + 1}
            body.pop("text", None)
        route.continue_(post_data=json.dumps(body))

    page.route("**/api/v1/documents/*/spans", split_the_flag)
    select_utf16(page, utf16(CLUSTER_TEXT, FLAG), utf16(CLUSTER_TEXT, FLAG + 2))
    page.keyboard.press("3")
    page.wait_for_selector("#notice:not([hidden])")
    notice = page.locator("#notice").inner_text()
    assert "Not saved" in notice
    assert f"start: Starts inside a character: {FLAG}-{FLAG + 2} is one grapheme cluster" in notice
    assert stored(did)[0] == [] and drawn(page) == []
