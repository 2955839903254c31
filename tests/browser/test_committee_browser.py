"""The committee's pages in the browser: figures with charts and tables, a member's profile.

The organisation is a synthetic committee (a year of signed minutes, written before the
real ``meetingd`` process starts on the same data directory); C1-001 is made its officer.
Phone and laptop, English and Vietnamese; screenshots go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.test_votes_browser import sign_in

pytestmark = pytest.mark.browser

OFFICER = "C1-001"


async def _seed(data: Path) -> None:
    from meetingd.app import open_services
    from meetingd.committee.synthetic import seed_organisation
    from meetingd.config import load_config
    from meetingd.demo import seed_demo
    from meetingd.keystore import provision_demo_passphrase

    cfg = load_config(environ={}, overrides={"server": {"data_dir": str(data)}})
    provision_demo_passphrase(cfg)  # as 'serve --demo' does; the process then finds it
    svc = await open_services(cfg)
    try:
        await seed_demo(svc)
        now = datetime.now(UTC)
        first = now.month + 1  # the twelve months up to last month
        await seed_organisation(
            svc,
            cells=12,
            members_per_cell=8,
            months=11,
            year=now.year - 1 if first <= 12 else now.year,
            first_month=(first - 1) % 12 + 1,
        )
        await svc.committee.org.import_csv(
            f"kind,key,name,parent,title\ncommittee_officer,{OFFICER},,K-SYN,committee secretary\n", "test"
        )
    finally:
        await svc.engine.dispose()


@pytest.fixture(scope="module")
def meetingd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.support.server import start_meetingd, stop_meetingd

    tmp = tmp_path_factory.mktemp("committee")
    with ThreadPoolExecutor(1) as pool:  # a loop of its own, beside pytest's
        pool.submit(asyncio.run, _seed(tmp / "data")).result()
    base_url, proc = start_meetingd(tmp)
    try:
        yield base_url.rstrip("/")
    finally:
        stop_meetingd(proc)


def signed_in(page: Page, member_id: str, password: str, lang: str) -> None:
    """Sign in and pick the language (it is saved for the member, so every test sets it)."""
    sign_in(page, member_id, password)
    page.select_option("#language", lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)


def open_committee(page: Page) -> None:
    page.goto("/#/org")
    page.locator('[data-committee="K-SYN"]').click()
    expect(page.locator(".committee .stat")).to_have_count(4)
    expect(page.locator(".chart canvas").first).to_be_visible()


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width  # type: ignore[index]


def test_a_committee_officer_sees_trends_bars_and_flags_on_a_laptop_in_english(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    page = open_page(LAPTOP)
    signed_in(page, OFFICER, demo_password, "en")
    open_committee(page)
    expect(page.locator("h1")).to_have_text("Synthetic committee (K-SYN)")
    expect(page.locator("figure.chart-figure")).to_have_count(2)
    expect(page.locator("figure.chart-figure table.figures")).to_have_count(2)  # a table beside each chart
    expect(page.locator("table.figures").nth(1).locator("tbody tr")).to_have_count(12)
    expect(page.get_by_role("heading", name="Cells that did not meet")).to_be_visible()
    expect(page.locator('.downloads a[href*="report.pdf"]')).to_be_visible()
    page.screenshot(path=str(artifacts / "committee-laptop-en.png"), full_page=True)
    # another cell picked for the trend line redraws it
    page.select_option("#trend-cell", "K-SYN cell 003")
    expect(page.locator("table.figures").first.locator("thead th").nth(2)).to_have_text("K-SYN cell 003")


def test_the_committee_page_fits_a_phone_in_vietnamese(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    page = open_page(PHONE)
    signed_in(page, OFFICER, demo_password, "vi")
    open_committee(page)
    expect(page.get_by_role("heading", name="Tỷ lệ dự họp theo tháng")).to_be_visible()
    expect(page.get_by_role("heading", name="Tỷ lệ dự họp theo chi bộ")).to_be_visible()
    box = page.locator(".chart").first.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]
    no_sideways_scroll(page)
    page.screenshot(path=str(artifacts / "committee-phone-vi.png"), full_page=True)


def test_a_member_profile_shows_the_timeline_and_records_a_change(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    page = open_page(PHONE)
    signed_in(page, OFFICER, demo_password, "en")
    open_committee(page)
    page.locator(".flags a").first.click()
    expect(page.locator(".profile .chart canvas")).to_be_visible()
    expect(page.locator(".profile table.figures tbody tr")).to_have_count(11)
    page.select_option("#change-kind", "reward")
    page.locator("#change-title").fill("Certificate of merit")
    page.locator("#change-date").fill("2026-05-01")
    page.locator("#change-reason").fill("Led the flood relief")
    page.get_by_role("button", name="Record").click()
    expect(page.locator('[data-section="reward"]')).to_contain_text("Certificate of merit")
    expect(page.locator(".history li")).to_have_count(1)
    no_sideways_scroll(page)
    page.screenshot(path=str(artifacts / "profile-phone-en.png"), full_page=True)


def test_a_member_cannot_see_the_committee_and_reads_their_own_profile_in_vietnamese(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    page = open_page(LAPTOP)
    signed_in(page, "C1-002", demo_password, "vi")
    page.goto("/#/org")
    expect(page.locator(".committee p.muted")).to_contain_text("Bạn không phụ trách")
    page.goto("/#/committee/1")
    expect(page.locator(".form-message.error")).to_contain_text("Không tìm thấy cấp ủy")
    page.goto("/#/org")
    page.get_by_role("link", name="Hồ sơ của tôi").click()
    expect(page.locator(".profile h1")).to_contain_text("C1-002")
    page.screenshot(path=str(artifacts / "profile-laptop-vi.png"), full_page=True)


def tables_fit(page: Page) -> None:
    """No figures table is cut off: nothing inside any table's box scrolls sideways."""
    for i, wrap in enumerate(page.locator(".table-wrap").all()):
        wrap.scroll_into_view_if_needed()
        over = wrap.evaluate("el => el.scrollWidth - el.clientWidth")
        assert over <= 1, (i, over)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_table_of_the_committee_page_fits_a_phone(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path, lang: str
) -> None:
    page = open_page(PHONE)
    signed_in(page, OFFICER, demo_password, lang)
    open_committee(page)
    cells = page.locator("table.figures").nth(1)
    attendance = "Tỷ lệ dự họp" if lang == "vi" else "Attendance rate"
    expect(cells.locator("tbody tr").first.locator("td").nth(1)).to_have_attribute("data-label", attendance)
    tables_fit(page)
    no_sideways_scroll(page)
    cells.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"committee-phone-{lang}-cells.png"))
    page.screenshot(path=str(artifacts / f"committee-phone-{lang}-full.png"), full_page=True)


def test_a_committee_officer_adds_renames_and_staffs_a_cell_from_the_organisation_page(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    page = open_page(LAPTOP)
    signed_in(page, OFFICER, demo_password, "en")
    page.goto("/#/org")
    editor = page.locator('[data-edit-committee="K-SYN"]')
    editor.locator("summary").click()
    add = editor.locator("form.org-form").first
    add.get_by_label("Cell name").fill("K-SYN cell 900")
    add.locator('[data-role="reason"]').fill("a new ward")
    add.get_by_role("button", name="Add the cell").click()
    expect(page.locator(".form-message.ok")).to_have_text("Cell “K-SYN cell 900” added.")
    cell = page.locator('[data-edit-cell="K-SYN cell 900"]')
    cell.locator("summary").click()
    rename = cell.locator("form.org-form").first
    rename.get_by_label("Cell name").fill("K-SYN cell 901")
    rename.locator('[data-role="reason"]').fill("the ward's name")
    rename.get_by_role("button", name="Save").click()
    expect(page.locator('[data-cell="K-SYN cell 901"]')).to_be_visible()
    # a member of another cell, not under this officer: refused in words, nothing appointed
    cell = page.locator('[data-edit-cell="K-SYN cell 901"]')
    cell.locator("summary").click()
    appoint = cell.locator("form.org-form").nth(1)
    appoint.get_by_label("Member id").fill("G-OBS1")
    appoint.get_by_label("Title").fill("cell secretary")
    appoint.locator('[data-role="reason"]').fill("elected")
    appoint.get_by_role("button", name="Appoint").click()
    expect(appoint.locator(".form-message.error")).to_contain_text("not under you")
    appoint.get_by_label("Member id").fill("K-SYN-000-003")
    appoint.get_by_role("button", name="Appoint").click()
    expect(page.locator('[data-cell="K-SYN cell 901"] .org-officers')).to_contain_text(
        "cell secretary: Member 0.3"
    )
    page.screenshot(path=str(artifacts / "org-edit-laptop-en.png"), full_page=True)


def test_the_organisation_page_edits_fit_a_phone_in_vietnamese(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    page = open_page(PHONE)
    signed_in(page, OFFICER, demo_password, "vi")
    page.goto("/#/org")
    cell = page.locator('[data-edit-cell="K-SYN cell 002"]')
    cell.locator("summary").click()
    expect(cell.get_by_role("heading", name="Đổi tên chi bộ")).to_be_visible()
    appoint = cell.locator("form.org-form").nth(1)
    expect(appoint.get_by_role("heading", name="Phân công cán bộ phụ trách")).to_be_visible()
    no_sideways_scroll(page)
    cell.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "org-edit-phone-vi.png"))


SMALL_PHONE = {"width": 360, "height": 740}


def wrapped_cells(page: Page, table: str) -> list[str]:
    """Cells of a table whose text runs onto a second line (taller than 1.7 lines)."""
    return list(
        page.evaluate(
            """(sel) => [...document.querySelectorAll(`${sel} th, ${sel} td`)]
            .filter((el) => el.getClientRects().length)
            .filter((el) => {
                const s = getComputedStyle(el);
                const line = parseFloat(s.lineHeight) || 1.2 * parseFloat(s.fontSize);
                const pad = parseFloat(s.paddingTop) + parseFloat(s.paddingBottom);
                return el.getBoundingClientRect().height - pad > 1.7 * line;
            })
            .map((el) => `${el.getAttribute('data-label') || 'header'}: ${el.textContent}`)""",
            table,
        )
    )


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_profile_timeline_reads_as_labelled_cards_on_phones_and_a_table_on_a_laptop(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path, lang: str
) -> None:
    page = open_page(LAPTOP)
    signed_in(page, OFFICER, demo_password, lang)
    open_committee(page)
    page.locator(".flags a").first.click()
    table = ".profile table.figures"
    expect(page.locator(f"{table} tbody tr")).to_have_count(11)
    for size in (SMALL_PHONE, PHONE, LAPTOP):
        page.set_viewport_size(size)
        width = size["width"]
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts / f"profile-{width}-{lang}.png"), full_page=True)
        no_sideways_scroll(page)
        tables_fit(page)
        assert not wrapped_cells(page, table), f"{width} px, {lang}: {wrapped_cells(page, table)}"
        row = page.locator(f"{table} tbody tr").first
        header = page.locator(f"{table} thead")
        if width < 640:  # 40 rem: each meeting a card of "label value" lines, still a table
            expect(header).to_have_css("position", "absolute")
            expect(row).to_have_css("display", "block")
            labels = row.locator("td").evaluate_all(
                "tds => tds.map((td) => getComputedStyle(td, '::before').content)"
            )
            assert len(labels) == 4 and all(label not in ("none", '""') for label in labels), labels
            # the cards run with the page, not in a box scrolling inside it
            expect(page.locator(".profile .table-wrap")).to_have_css("max-height", "none")
            # the heading keeps the member id whole
            assert page.locator(".profile h1 .member-id").evaluate("el => el.getClientRects().length") == 1
        else:
            expect(header).to_be_visible()
            expect(row).to_have_css("display", "table-row")
        expect(page.get_by_role("table").first).to_be_attached()
        assert page.locator(f"{table} [role='row']").count() == 12  # the header row and 11 meetings


def test_an_administrator_adds_and_moves_a_committee_and_edits_a_cells_sub_sites_on_a_laptop(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    page = open_page(LAPTOP)
    signed_in(page, "C1-CHAIR", demo_password, "en")
    page.goto("/#/org")
    top = page.locator('[data-edit-top="1"]')
    top.locator("summary").click()
    add = top.locator("form.org-form")
    add.get_by_label("Committee code").fill("K-SYN")  # taken: refused in words
    add.get_by_label("Committee name").fill("Top committee")
    add.locator('[data-role="reason"]').fill("the province's new structure")
    add.get_by_role("button", name="Add the committee").click()
    expect(add.locator(".form-message.error")).to_have_text("A committee with this code exists already.")
    add.get_by_label("Committee code").fill("K-TOP")
    add.get_by_role("button", name="Add the committee").click()
    expect(page.locator(".form-message.ok")).to_have_text("Committee “Top committee” added.")

    editor = page.locator('[data-edit-committee="K-SYN"]')
    editor.locator("summary").click()
    move = editor.locator("form.org-form").filter(has=page.get_by_role("heading", name="Move the committee"))
    move.get_by_label("Under").select_option(label="Top committee (K-TOP)")
    move.locator('[data-role="reason"]').fill("now under the new top committee")
    move.get_by_role("button", name="Move").click()
    expect(page.locator('li:has(> [data-committee="K-TOP"]) [data-committee="K-SYN"]')).to_be_visible()

    name = "K-SYN cell 003"
    cell = page.locator(f'[data-edit-cell="{name}"]')
    cell.locator("summary").click()
    add_site = cell.locator("form.org-form").filter(has=page.get_by_role("heading", name="Add a sub-site"))
    add_site.get_by_label("Sub-site name").fill("Island post")
    add_site.locator('[data-role="reason"]').fill("a new island post")
    add_site.get_by_role("button", name="Add the sub-site").click()
    expect(page.locator(".form-message.ok")).to_have_text("Sub-site “Island post” added.")
    expect(page.locator(f'[data-cell="{name}"]')).to_contain_text("Island post")
    expect(cell).to_have_attribute("open", "")  # the editor stays open across the save
    rename = cell.locator('form[data-site="Island post"]').first
    rename.get_by_label("Sub-site name").fill("Island post (north)")
    rename.locator('[data-role="reason"]').fill("the post moved north")
    rename.get_by_role("button", name="Save").click()
    expect(page.locator(".form-message.ok")).to_have_text("The sub-site is now called “Island post (north)”.")
    expect(cell).to_have_attribute("open", "")  # the editor stays open across the save
    cell.locator('form[data-site="Island post (north)"]').first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "org-edit-units-laptop-en.png"), full_page=True)
    remove = cell.locator('form[data-site="Island post (north)"]').nth(1)
    remove.locator('[data-role="reason"]').fill("the post closed")
    remove.get_by_role("button", name="Remove the sub-site").click()
    expect(page.locator(".form-message.ok")).to_have_text("Sub-site “Island post (north)” removed.")
    expect(page.locator(f'[data-cell="{name}"]')).not_to_contain_text("Island post")


def test_a_committee_officer_adds_a_committee_and_sub_sites_on_a_phone_in_vietnamese(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    page = open_page(PHONE)
    signed_in(page, OFFICER, demo_password, "vi")
    page.goto("/#/org")
    editor = page.locator('[data-edit-committee="K-SYN"]')
    editor.locator("summary").click()
    add = editor.locator("form.org-form").filter(
        has=page.get_by_role("heading", name="Thêm cấp ủy trực thuộc")
    )
    add.get_by_label("Mã cấp ủy").fill("K-SYN-P1")
    add.get_by_label("Tên cấp ủy").fill("Đảng ủy Phường 1")
    add.locator('[data-role="reason"]').fill("thành lập đảng ủy phường")
    add.get_by_role("button", name="Thêm cấp ủy").click()
    expect(page.locator(".form-message.ok")).to_have_text("Đã thêm cấp ủy “Đảng ủy Phường 1”.")
    # the officer is above the new committee: they may rename it
    sub = page.locator('[data-edit-committee="K-SYN-P1"]')
    sub.locator("summary").click()
    expect(sub.get_by_role("heading", name="Đổi tên cấp ủy")).to_be_visible()

    cell = page.locator('[data-edit-cell="K-SYN cell 004"]')
    cell.locator("summary").click()
    add_site = cell.locator("form.org-form").filter(has=page.get_by_role("heading", name="Thêm điểm cầu"))
    add_site.get_by_label("Tên điểm cầu").fill("Điểm cầu Bến Đá")
    add_site.locator('[data-role="reason"]').fill("mở điểm cầu mới")
    add_site.get_by_role("button", name="Thêm điểm cầu").click()
    expect(page.locator(".form-message.ok")).to_have_text("Đã thêm điểm cầu “Điểm cầu Bến Đá”.")
    expect(cell).to_have_attribute("open", "")  # the editor stays open across the save
    add_site.get_by_label("Tên điểm cầu").fill("Điểm cầu Bến Đá")
    add_site.locator('[data-role="reason"]').fill("nhập lại")
    add_site.get_by_role("button", name="Thêm điểm cầu").click()
    expect(add_site.locator(".form-message.error")).to_have_text("Chi bộ đã có điểm cầu mang tên này.")
    no_sideways_scroll(page)
    add_site.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "org-edit-units-phone-vi.png"))
    page.screenshot(path=str(artifacts / "org-edit-units-phone-vi-full.png"), full_page=True)
