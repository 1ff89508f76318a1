from __future__ import annotations

import io
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from silkroute.corpus.document import Document
from silkroute.corpus.io.readers import read_file
from silkroute.corpus.io.writers import iter_shard_docs, write_shard

HTML = """<html><head><title>ข่าว</title></head><body><nav>menu</nav><article>
<p>ประเทศไทยมีประชากรประมาณเจ็ดสิบล้านคน และมีภาษาไทยเป็นภาษาราชการของประเทศ</p>
<p>กรุงเทพมหานครเป็นเมืองหลวงและเป็นศูนย์กลางทางเศรษฐกิจที่สำคัญที่สุดของประเทศไทย</p>
</article></body></html>"""


def test_warc_html_is_extracted(tmp_path: Path) -> None:
    path = tmp_path / "crawl.warc.gz"
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        headers = StatusAndHeaders(
            "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.0"
        )
        payload = io.BytesIO(HTML.encode())
        url = "https://example.th/news"
        record = writer.create_warc_record(url, "response", payload=payload, http_headers=headers)
        writer.write_record(record)
    docs = list(read_file(path))
    assert len(docs) == 1 and "กรุงเทพมหานคร" in docs[0].text and "menu" not in docs[0].text
    assert docs[0].meta["url"] == "https://example.th/news"


def test_parquet_and_jsonl_round_trip(tmp_path: Path) -> None:
    docs = [Document("1", "ສະບາຍດີ", {"lang": "lao_Laoo", "lang_score": 0.9, "pii": {"EMAIL": 1}})]
    for fmt in ("parquet", "jsonl.gz"):
        path = tmp_path / f"s.{fmt}"
        write_shard(docs, path, fmt)
        assert list(iter_shard_docs(path)) == docs
        again = list(read_file(path))
        assert again[0].text == "ສະບາຍດີ" and again[0].meta["lang"] == "lao_Laoo"


def test_text_file_is_one_document(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("line one\nline two\n")
    assert [d.text for d in read_file(tmp_path / "a.txt")] == ["line one\nline two\n"]
