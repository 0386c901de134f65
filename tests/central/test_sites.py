"""The sites file (central/reports/sites.py): each site's 社区, 街道 and 区, read from CSV
(English or Chinese headers, UTF-8, BOM or GBK) or TOML; every bad line named."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.cli import main
from central.reports.sites import UNKNOWN, Site, SitesRefused, read_sites
from central.store.open import open_store

ENGLISH = ("site,name,community,street,district,capacity\n"
           "S01,幸福东门,幸福社区,长安街道,东城区,300\n"
           "S02,和平广场,和平社区,长安街道,东城区,\n"
           "S03,光明小学,,建国街道,西城区,120\n")


def test_a_csv_in_english_gives_each_site_its_levels(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(ENGLISH, encoding="utf-8")
    sites = read_sites(path)
    assert [s.id for s in sites] == ["S01", "S02", "S03"]   # the file's order
    assert sites.get("S01") == Site("S01", "幸福东门", "幸福社区", "长安街道", "东城区", 300)
    assert sites.get("S02") == Site("S02", "和平广场", "和平社区", "长安街道", "东城区", None)
    assert sites.levels("S03") == ("", "建国街道", "西城区")   # straight under its street
    assert sites.get("S09") is None
    assert sites.levels("S09") == (UNKNOWN, UNKNOWN, UNKNOWN)
    assert sites.unknown(["S01", "S09", "S08", "S09"]) == ["S08", "S09"]
    assert sites.name("S02") == "和平广场"
    assert sites.name("S09") == "S09"
    assert sites.above("和平社区") == {("长安街道", "东城区")}
    assert sites.above("无名社区") == set()
    assert sites.given and len(sites) == 3


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_a_csv_in_chinese_saved_by_excel_or_wps(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "采样点.csv"
    path.write_text("采样点编号,采样点名称,社区,街道,区县,每小时容量（人）\n"
                    "S01,幸福东门,幸福社区,长安街道,东城区,300\n", encoding=encoding)
    assert list(read_sites(path)) == [Site("S01", "幸福东门", "幸福社区", "长安街道", "东城区",
                                           300)]


def test_toml_tables_say_the_same(tmp_path: Path) -> None:
    path = tmp_path / "sites.toml"
    path.write_text('[[site]]\nid = "S01"\nname = "幸福东门"\ncommunity = "幸福社区"\n'
                    'street = "长安街道"\ndistrict = "东城区"\ncapacity = 300\n\n'
                    '[[site]]\nid = "S02"\ndistrict = "东城区"\n', encoding="utf-8")
    sites = read_sites(path)
    assert list(sites) == [Site("S01", "幸福东门", "幸福社区", "长安街道", "东城区", 300),
                           Site("S02", "", "", "", "东城区", None)]


@pytest.mark.parametrize(("text", "said"), [
    (ENGLISH + "S01,又一个,幸福社区,长安街道,东城区,\n",
     r"line 5: site S01 named twice \(lines 2 and 5\)"),
    ("site,community,street,district\nS01,幸福社区,长安街道,\n",
     "line 2: street 长安街道 with no district"),
    ("site,community,street,district\nS01,幸福社区,,东城区\n",
     "line 2: community 幸福社区 with no street"),
    ("site,community,street,district,ward\nS01,幸福社区,长安街道,东城区,3\n",
     "line 1: unknown column 'ward' \\(column 5\\)"),
    ("site,community,district\nS01,幸福社区,东城区\n", "line 1: no column for street"),
    ("site,community,street,district,capacity\nS01,幸福社区,长安街道,东城区,-5\n",
     "line 2: capacity '-5'"),
    ("site,community,street,district\nS 01,幸福社区,长安街道,东城区\n",
     "line 2: site id 'S 01' cannot be a lane's site"),
    ("site,community,street,district\nS01,幸福社区,长安街道,东城区,extra\n",
     "line 2: a value in column 5, which has no header"),
    ("", "line 1: empty"),
])
def test_a_bad_csv_is_refused_naming_the_line(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SitesRefused, match=f"^{path}: {said}"):
        read_sites(path)


def test_every_bad_line_is_said_at_once(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("site,community,street,district\nS01,幸福社区,,东城区\n"
                    "S02,,长安街道,\n", encoding="utf-8")
    with pytest.raises(SitesRefused) as refused:
        read_sites(path)
    assert str(refused.value).splitlines() == [
        f"{path}: line 2: community 幸福社区 with no street: give its 街道",
        f"{path}: line 3: street 长安街道 with no district: give its 区"]


def test_undecodable_bytes_are_refused_naming_their_line(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_bytes(b"site,community,street,district\n"
                     + "S01,幸福社区,长安街道,东城区\n".encode("gbk") + b"S02,\x81\x20,x,y\n")
    with pytest.raises(SitesRefused, match=f"^{path}: line 3: neither UTF-8 nor GBK"):
        read_sites(path)


@pytest.mark.parametrize(("text", "said"), [
    ('[[site]]\nid = "S01"\n\n[[site]]\nid = "S01"\n',
     r"line 4: site S01 named twice \(lines 1 and 4\)"),
    ('[[site]]\nid = "S01"\nstreet = "长安街道"\n', "line 1: street 长安街道 with no district"),
    ('[[site]]\nid = "S01"\nward = "3"\n', "line 1: unknown key 'ward'"),
    ('[[site]]\nid = 1\n', "line 1: id = 1: text"),
    ('[site]\nid = "S01"\n', "site: one"),
    ('title = "x"\n', "unknown key 'title'"),
    ('[[site]\n', r"Expected '\]\]' .* \(at line 1, column 7\)"),
])
def test_a_bad_toml_is_refused_naming_the_line(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "sites.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SitesRefused, match=f"^{path}: {said}"):
        read_sites(path)


def test_the_report_command_takes_sites_where_a_report_groups(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("site,community,street,district\nS01,幸福社区,,东城区\n", encoding="utf-8")
    db, out = str(tmp_path / "central.db"), tmp_path / "totals.csv"
    open_store(db).close()
    assert main(["report", "register", "--db", db, "--sites", str(path)]) == 2
    assert "--sites: for totals" in capsys.readouterr().err
    assert main(["report", "totals", "--db", db, "--sites", str(path),
                 "--output", str(out)]) == 1
    assert f"{path}: line 2: community 幸福社区 with no street" in capsys.readouterr().err
    assert not out.exists()   # nothing written
